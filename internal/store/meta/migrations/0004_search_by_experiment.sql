-- Searches filter on (key, value) within the experiments searched. Keeping
-- each run's experiment beside its tags, params and latest metrics lets every
-- filter clause be one index range inside those experiments, so a search
-- costs in proportion to the experiment, not to the whole database.

ALTER TABLE tags ADD COLUMN experiment_id BIGINT NOT NULL DEFAULT -1;
ALTER TABLE params ADD COLUMN experiment_id BIGINT NOT NULL DEFAULT -1;
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT NOT NULL DEFAULT -1;
UPDATE tags SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_uuid = tags.run_uuid);
UPDATE params SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_uuid = params.run_uuid);
UPDATE latest_metrics SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid);
DROP INDEX tags_key_value_idx;
DROP INDEX params_key_value_idx;
DROP INDEX latest_metrics_key_value_idx;
CREATE INDEX tags_search_idx ON tags (experiment_id, key, value);
CREATE INDEX params_search_idx ON params (experiment_id, key, value);
CREATE INDEX latest_metrics_search_idx ON latest_metrics (experiment_id, key, value);
