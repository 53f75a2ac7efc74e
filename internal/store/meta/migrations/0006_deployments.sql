-- Model server deployments: a name and its configuration as JSON (the
-- serve package's Config), restored when the server starts.

CREATE TABLE deployments (
    name             TEXT PRIMARY KEY,
    config           TEXT NOT NULL,
    creation_time    BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);
