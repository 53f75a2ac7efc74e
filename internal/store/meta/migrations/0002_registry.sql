-- Model registry. Models have a surrogate key, so a rename touches one row;
-- next_version hands out version numbers that are never reused.

CREATE TABLE registered_models (
    id                AUTOID,
    name              TEXT NOT NULL UNIQUE,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    next_version      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE registered_model_tags (
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE model_versions (
    model_id          BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version           BIGINT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL DEFAULT '',
    current_stage     TEXT NOT NULL DEFAULT 'None',
    source            TEXT NOT NULL,
    run_id            TEXT NOT NULL DEFAULT '',
    run_link          TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'READY',
    status_message    TEXT NOT NULL DEFAULT '',
    storage_location  TEXT NOT NULL DEFAULT '',
    logged_model_id   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, version)
);
CREATE INDEX model_versions_run_idx ON model_versions (run_id);
CREATE INDEX model_versions_stage_idx ON model_versions (model_id, current_stage, version);

CREATE TABLE model_version_tags (
    model_id BIGINT NOT NULL,
    version  BIGINT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version) ON DELETE CASCADE
);

CREATE TABLE registered_model_aliases (
    model_id BIGINT NOT NULL,
    alias    TEXT NOT NULL,
    version  BIGINT NOT NULL,
    PRIMARY KEY (model_id, alias),
    FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version) ON DELETE CASCADE
);
