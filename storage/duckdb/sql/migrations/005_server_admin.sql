-- Server-level role on a token: a server admin may create workspaces (a workspace admin
-- only manages its own workspace). Set only by `flowscope token create --server-admin`
-- on the database file, never through the API.
--
-- The table is rebuilt rather than altered: DuckDB 1.5 refuses `ADD COLUMN ... NOT NULL`
-- ("Adding columns with constraints not yet supported") and, inside the migration's
-- transaction, `SET NOT NULL` after `ADD COLUMN` ("Cannot create index with outstanding
-- updates"). The result is the table `ADD COLUMN server_admin BOOLEAN NOT NULL DEFAULT
-- false` gives on DuckDB 2.0, which wrote the databases migrated before this change.

CREATE TABLE tokens_005 (
    id            VARCHAR PRIMARY KEY,
    token_hash    VARCHAR NOT NULL UNIQUE,   -- sha256 of the secret; the secret is shown once
    workspace_id  VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,          -- viewer | editor | admin
    name          VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ,
    server_admin  BOOLEAN NOT NULL DEFAULT false
);

INSERT INTO tokens_005 (id, token_hash, workspace_id, role, name, created_at, revoked_at)
SELECT id, token_hash, workspace_id, role, name, created_at, revoked_at FROM tokens;

DROP TABLE tokens;

ALTER TABLE tokens_005 RENAME TO tokens;
