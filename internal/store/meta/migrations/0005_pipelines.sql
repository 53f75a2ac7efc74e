-- Pipelines: definitions by name, runs, and the state of each task (or
-- for_each item) of a run. A run and its task rows are written in one
-- transaction, so a run record is never half-written.

CREATE TABLE pipelines (
    name             TEXT PRIMARY KEY,
    source           TEXT NOT NULL,
    file             TEXT NOT NULL DEFAULT '',
    schedule         TEXT NOT NULL DEFAULT '',
    work_dir         TEXT NOT NULL DEFAULT '',
    creation_time    BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);

CREATE TABLE pipeline_runs (
    run_id          TEXT PRIMARY KEY,
    pipeline        TEXT NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    file            TEXT NOT NULL DEFAULT '',
    work_dir        TEXT NOT NULL DEFAULT '',
    params          TEXT NOT NULL DEFAULT '{}',
    phase           TEXT NOT NULL,
    message         TEXT NOT NULL DEFAULT '',
    trigger_type    TEXT NOT NULL DEFAULT '',
    experiment_id   TEXT NOT NULL DEFAULT '',
    tracking_run_id TEXT NOT NULL DEFAULT '',
    owner           TEXT NOT NULL DEFAULT '',
    heartbeat       BIGINT,
    cancel          BOOL NOT NULL DEFAULT FALSE,
    creation_time   BIGINT NOT NULL,
    start_time      BIGINT,
    end_time        BIGINT
);
CREATE INDEX pipeline_runs_pipeline_idx ON pipeline_runs (pipeline, creation_time DESC, run_id);
CREATE INDEX pipeline_runs_phase_idx ON pipeline_runs (phase, creation_time DESC);

CREATE TABLE task_runs (
    run_id          TEXT NOT NULL REFERENCES pipeline_runs (run_id) ON DELETE CASCADE,
    node            TEXT NOT NULL,
    task            TEXT NOT NULL,
    item            BIGINT NOT NULL DEFAULT -1,
    item_value      TEXT NOT NULL DEFAULT '',
    seq             BIGINT NOT NULL DEFAULT 0,
    phase           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    tracking_run_id TEXT NOT NULL DEFAULT '',
    cache_key       TEXT NOT NULL DEFAULT '',
    cached_from     TEXT NOT NULL DEFAULT '',
    outputs         TEXT NOT NULL DEFAULT '{}',
    output_dir      TEXT NOT NULL DEFAULT '',
    digest          TEXT NOT NULL DEFAULT '',
    log_path        TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    exit_code       BIGINT NOT NULL DEFAULT 0,
    pid             BIGINT NOT NULL DEFAULT 0,
    start_time      BIGINT,
    end_time        BIGINT,
    PRIMARY KEY (run_id, node)
);
CREATE INDEX task_runs_cache_idx ON task_runs (cache_key, phase, end_time);
