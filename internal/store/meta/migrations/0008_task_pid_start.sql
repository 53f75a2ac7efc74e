-- Which process a task's stored PID named: its boot ID and start time, so
-- that resuming a run after a crash kills the task's process group only
-- while that PID is still the task's, never a process that reused the ID.
ALTER TABLE task_runs ADD COLUMN pid_start TEXT NOT NULL DEFAULT '';
