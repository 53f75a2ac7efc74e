-- Who is behind a pipeline's tasks: the user who last registered a pipeline
-- (its scheduled runs act for them) and the user who submitted each run; and
-- the scope of a task's token, confined to one pipeline run.
ALTER TABLE pipelines ADD COLUMN registered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE pipeline_runs ADD COLUMN submitted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
