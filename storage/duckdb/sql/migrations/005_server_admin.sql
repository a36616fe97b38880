-- Server-level role on a token: a server admin may create workspaces (a workspace admin
-- only manages its own workspace). Set only by `flowscope token create --server-admin`
-- on the database file, never through the API.

ALTER TABLE tokens ADD COLUMN server_admin BOOLEAN NOT NULL DEFAULT false;
