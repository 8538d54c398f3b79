-- httpat schema version 5: what operators need. Notifications, schedules that end, and the
-- counts that `metrics` and `status` read without scanning every task.

-- Notifications: the endpoint, by name, that is sent one task when a task of this endpoint
-- ends `failed` or is cancelled by the executor (on_failure), or `succeeded` (on_success).
ALTER TABLE endpoints ADD COLUMN on_failure TEXT;
ALTER TABLE endpoints ADD COLUMN on_success TEXT;

-- The task a notification reports on; NULL for every other task. A notification never
-- notifies.
ALTER TABLE tasks ADD COLUMN notifies INTEGER;

-- A schedule that ends: no firing after this time. NULL: it never ends.
ALTER TABLE schedules ADD COLUMN until_at INTEGER;

-- Attempts ever finished, per endpoint and attempt outcome: a counter that never decreases, not
-- even when `prune` deletes the attempts it counted.
CREATE TABLE attempt_counts (
    endpoint          TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    n                 INTEGER NOT NULL,
    PRIMARY KEY (endpoint, outcome)
) WITHOUT ROWID;
INSERT INTO attempt_counts (endpoint, outcome, n)
    SELECT t.endpoint, a.outcome, count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
    WHERE a.outcome IS NOT NULL GROUP BY t.endpoint, a.outcome;

CREATE TRIGGER attempt_counts_on_insert AFTER INSERT ON attempts
WHEN NEW.outcome IS NOT NULL
BEGIN
    INSERT INTO attempt_counts (endpoint, outcome, n)
        SELECT endpoint, NEW.outcome, 1 FROM tasks WHERE id = NEW.task_id
        ON CONFLICT (endpoint, outcome) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER attempt_counts_on_finish AFTER UPDATE OF outcome ON attempts
WHEN OLD.outcome IS NULL AND NEW.outcome IS NOT NULL
BEGIN
    INSERT INTO attempt_counts (endpoint, outcome, n)
        SELECT endpoint, NEW.outcome, 1 FROM tasks WHERE id = NEW.task_id
        ON CONFLICT (endpoint, outcome) DO UPDATE SET n = n + 1;
END;

-- Tasks per phase, kept as tasks are made, change and are pruned. A
-- phase is a state without the clock: 'waiting' is `scheduled` or `due` (the due ones are
-- counted by time, over the waiting index), the others are the states of the same name.
CREATE TABLE task_counts (
    phase             TEXT PRIMARY KEY,
    n                 INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO task_counts (phase, n) VALUES ('waiting', 0), ('retrying', 0), ('running', 0),
    ('succeeded', 0), ('failed', 0), ('cancelled', 0);
UPDATE task_counts SET n = (
    SELECT count(*) FROM tasks WHERE
        CASE WHEN outcome IS NOT NULL THEN outcome
             WHEN tick_id IS NOT NULL THEN 'running'
             WHEN attempts > attempts_base THEN 'retrying'
             ELSE 'waiting' END = task_counts.phase);

-- A task is made `waiting`: the store adds the tasks a transaction made to that count once, when
-- it commits (a trigger per row would cost a bulk `schedule --file` a third of its time), and
-- `transfer` counts what it copied afresh.
CREATE TRIGGER task_counts_on_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET n = n - 1 WHERE phase =
        CASE WHEN OLD.outcome IS NOT NULL THEN OLD.outcome
             WHEN OLD.tick_id IS NOT NULL THEN 'running'
             WHEN OLD.attempts > OLD.attempts_base THEN 'retrying'
             ELSE 'waiting' END;
END;
CREATE TRIGGER task_counts_on_update AFTER UPDATE OF outcome, tick_id, attempts, attempts_base
ON tasks
BEGIN
    UPDATE task_counts SET n = n - 1 WHERE phase =
        CASE WHEN OLD.outcome IS NOT NULL THEN OLD.outcome
             WHEN OLD.tick_id IS NOT NULL THEN 'running'
             WHEN OLD.attempts > OLD.attempts_base THEN 'retrying'
             ELSE 'waiting' END;
    UPDATE task_counts SET n = n + 1 WHERE phase =
        CASE WHEN NEW.outcome IS NOT NULL THEN NEW.outcome
             WHEN NEW.tick_id IS NOT NULL THEN 'running'
             WHEN NEW.attempts > NEW.attempts_base THEN 'retrying'
             ELSE 'waiting' END;
END;

-- `status` per endpoint: how many of its tasks failed lately and when one last succeeded, read
-- over this index without walking every finished task; and how many are retrying, over the
-- second without walking every waiting one.
CREATE INDEX tasks_finished_by_endpoint ON tasks (endpoint, outcome, finished_at)
    WHERE outcome IS NOT NULL;
CREATE INDEX tasks_retrying ON tasks (endpoint)
    WHERE outcome IS NULL AND tick_id IS NULL AND attempts > attempts_base;

-- What a tick could not send because its environment lacked variables the requests read: a JSON
-- array of {endpoint, variables, not_signing_secrets, tasks_waiting} (names only, never a
-- value); NULL when nothing was missing. `status` reads it from each host's latest ended tick.
ALTER TABLE ticks ADD COLUMN missing_variables TEXT;
CREATE INDEX ticks_by_host_end ON ticks (host, ended_at);
