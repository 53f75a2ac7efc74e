-- Tracking: experiments, runs and what runs log. Written once for both
-- dialects; AUTOID, DOUBLE, BOOL and CLUSTERED (SQLite's WITHOUT ROWID: the
-- rows live in their primary-key b-tree, stored once) are replaced per dialect.

CREATE TABLE experiments (
    experiment_id     AUTOID,
    name              TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL DEFAULT '',
    lifecycle_stage   TEXT NOT NULL DEFAULT 'active',
    creation_time     BIGINT NOT NULL,
    last_update_time  BIGINT NOT NULL
);
CREATE INDEX experiments_stage_idx ON experiments (lifecycle_stage, experiment_id);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE runs (
    run_uuid        TEXT PRIMARY KEY,
    experiment_id   BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    name            TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    start_time      BIGINT NOT NULL,
    end_time        BIGINT,
    artifact_uri    TEXT NOT NULL DEFAULT '',
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    deleted_time    BIGINT
);
CREATE INDEX runs_experiment_idx ON runs (experiment_id, lifecycle_stage, start_time DESC, run_uuid);

CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) CLUSTERED;
CREATE INDEX tags_key_value_idx ON tags (key, value);

CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) CLUSTERED;
CREATE INDEX params_key_value_idx ON params (key, value);

-- Every logged metric value. NaN is stored as value 0 with is_nan set, since
-- SQLite turns NaN into NULL; ±Inf are stored as they are.
CREATE TABLE metrics (
    run_uuid  TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     DOUBLE NOT NULL,
    timestamp BIGINT NOT NULL,
    step      BIGINT NOT NULL DEFAULT 0,
    is_nan    BOOL NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)
) CLUSTERED;

-- The latest value of each metric of a run (highest step, then timestamp, then
-- value), kept in step with metrics so that search and order-by never scan history.
CREATE TABLE latest_metrics (
    run_uuid  TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     DOUBLE NOT NULL,
    timestamp BIGINT NOT NULL,
    step      BIGINT NOT NULL,
    is_nan    BOOL NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_uuid, key)
) CLUSTERED;
CREATE INDEX latest_metrics_key_value_idx ON latest_metrics (key, value);

CREATE TABLE datasets (
    dataset_uuid  TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    source_type   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    schema        TEXT NOT NULL DEFAULT '',
    profile       TEXT NOT NULL DEFAULT '',
    UNIQUE (experiment_id, name, digest)
);

-- Edges from a dataset or logged model to a run: inputs and outputs.
CREATE TABLE inputs (
    input_uuid       TEXT PRIMARY KEY,
    source_type      TEXT NOT NULL, -- DATASET or MODEL
    source_id        TEXT NOT NULL,
    destination_type TEXT NOT NULL, -- RUN
    destination_id   TEXT NOT NULL,
    step             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (source_type, source_id, destination_type, destination_id)
);
CREATE INDEX inputs_destination_idx ON inputs (destination_id);

CREATE TABLE input_tags (
    input_uuid TEXT NOT NULL REFERENCES inputs (input_uuid) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (input_uuid, name)
);

CREATE TABLE outputs (
    source_type      TEXT NOT NULL, -- RUN
    source_id        TEXT NOT NULL,
    destination_type TEXT NOT NULL, -- MODEL
    destination_id   TEXT NOT NULL,
    step             BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source_type, source_id, destination_type, destination_id)
);

CREATE TABLE logged_models (
    model_id         TEXT PRIMARY KEY,
    experiment_id    BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    artifact_uri     TEXT NOT NULL,
    status           TEXT NOT NULL,
    status_message   TEXT NOT NULL DEFAULT '',
    model_type       TEXT NOT NULL DEFAULT '',
    source_run_id    TEXT NOT NULL DEFAULT '',
    creation_time    BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    lifecycle_stage  TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX logged_models_experiment_idx ON logged_models (experiment_id, name);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
