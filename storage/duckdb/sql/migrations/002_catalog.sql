-- The catalog the API manages beside the telemetry: projects, workflow definitions
-- and access tokens. Every row belongs to one workspace.

CREATE TABLE projects (
    id            VARCHAR PRIMARY KEY,
    workspace_id  VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    description   VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE workflows (
    id                     VARCHAR PRIMARY KEY,
    workspace_id           VARCHAR NOT NULL,
    project_id             VARCHAR,
    name                   VARCHAR NOT NULL,
    description            VARCHAR,
    definition             VARCHAR NOT NULL,  -- the workflow definition as JSON text
    version                INTEGER NOT NULL DEFAULT 1,
    next_execution_number  BIGINT NOT NULL DEFAULT 1,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    id            VARCHAR PRIMARY KEY,
    token_hash    VARCHAR NOT NULL UNIQUE,   -- sha256 of the secret; the secret is shown once
    workspace_id  VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,          -- viewer | editor | admin
    name          VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ
);
