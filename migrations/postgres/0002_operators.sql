-- httpat schema for PostgreSQL, version 2: what SQLite's version 5 makes. Notifications,
-- schedules that end, and the counts that `metrics` and `status` read without scanning every
-- task.

-- Notifications: the endpoint, by name, that is sent one task when a task of this endpoint
-- ends `failed` or is cancelled by the executor (on_failure), or `succeeded` (on_success).
ALTER TABLE endpoints ADD COLUMN on_failure text;
ALTER TABLE endpoints ADD COLUMN on_success text;

-- The task a notification reports on; NULL for every other task. A notification never
-- notifies.
ALTER TABLE tasks ADD COLUMN notifies bigint;

-- A schedule that ends: no firing after this time. NULL: it never ends.
ALTER TABLE schedules ADD COLUMN until_at timestamptz;

-- The counts below are totals plus changes: a trigger appends one row per change (a task made,
-- moved to another phase, pruned; an attempt finished) and never updates a row, so writers
-- never wait on one another, nor deadlock, over a count, and one transaction of 100,000 tasks
-- costs 100,000 small appends, not 100,000 updates of one row. A reader sums the totals and
-- the changes; `fold_counts` (at the end of every tick) moves the changes into the totals.

-- Attempts ever finished, per endpoint and attempt outcome: a counter that never decreases, not
-- even when `prune` deletes the attempts it counted.
CREATE TABLE attempt_counts (
    endpoint          text NOT NULL,
    outcome           text NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (endpoint, outcome)
);
INSERT INTO attempt_counts (endpoint, outcome, n)
    SELECT t.endpoint, a.outcome, count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
    WHERE a.outcome IS NOT NULL GROUP BY t.endpoint, a.outcome;
CREATE TABLE attempt_count_changes (
    endpoint          text NOT NULL,
    outcome           text NOT NULL
);

CREATE FUNCTION count_attempt() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO attempt_count_changes (endpoint, outcome)
        SELECT endpoint, NEW.outcome FROM tasks WHERE id = NEW.task_id;
    RETURN NULL;
END $$;
CREATE TRIGGER attempt_counts_on_insert AFTER INSERT ON attempts
    FOR EACH ROW WHEN (NEW.outcome IS NOT NULL) EXECUTE FUNCTION count_attempt();
CREATE TRIGGER attempt_counts_on_finish AFTER UPDATE OF outcome ON attempts
    FOR EACH ROW WHEN (OLD.outcome IS NULL AND NEW.outcome IS NOT NULL)
    EXECUTE FUNCTION count_attempt();

-- Tasks per phase. A phase is a state without the clock: 'waiting' is `scheduled` or `due` (the
-- due ones are counted by time, over the waiting index), the others are the states of the same
-- name.
CREATE TABLE task_counts (
    phase             text PRIMARY KEY,
    n                 bigint NOT NULL
);
-- One row per change: the phase a task left (NULL when it was made) and the one it entered
-- (NULL when it was pruned).
CREATE TABLE task_count_changes (
    left_phase        text,
    entered_phase     text
);

CREATE FUNCTION task_phase(outcome text, tick_id text, attempts integer, attempts_base integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN outcome IS NOT NULL THEN outcome
                WHEN tick_id IS NOT NULL THEN 'running'
                WHEN attempts > attempts_base THEN 'retrying'
                ELSE 'waiting' END
$$;

INSERT INTO task_counts (phase, n)
    SELECT task_phase(outcome, tick_id, attempts, attempts_base), count(*) FROM tasks
    GROUP BY 1;

CREATE FUNCTION count_task() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_count_changes (left_phase, entered_phase) VALUES
            (NULL, task_phase(NEW.outcome, NEW.tick_id, NEW.attempts, NEW.attempts_base));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO task_count_changes (left_phase, entered_phase) VALUES
            (task_phase(OLD.outcome, OLD.tick_id, OLD.attempts, OLD.attempts_base), NULL);
    ELSE
        INSERT INTO task_count_changes (left_phase, entered_phase) VALUES
            (task_phase(OLD.outcome, OLD.tick_id, OLD.attempts, OLD.attempts_base),
             task_phase(NEW.outcome, NEW.tick_id, NEW.attempts, NEW.attempts_base));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER task_counts_on_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION count_task();
CREATE TRIGGER task_counts_on_delete AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION count_task();
CREATE TRIGGER task_counts_on_update AFTER UPDATE OF outcome, tick_id, attempts, attempts_base
    ON tasks FOR EACH ROW
    WHEN (task_phase(OLD.outcome, OLD.tick_id, OLD.attempts, OLD.attempts_base)
          IS DISTINCT FROM task_phase(NEW.outcome, NEW.tick_id, NEW.attempts, NEW.attempts_base))
    EXECUTE FUNCTION count_task();

-- `status` per endpoint: how many of its tasks failed lately and when one last succeeded, read
-- over this index without walking every finished task; and how many are retrying, over the
-- second without walking every waiting one.
CREATE INDEX tasks_finished_by_endpoint ON tasks (endpoint, outcome, finished_at)
    WHERE outcome IS NOT NULL;
CREATE INDEX tasks_retrying ON tasks (endpoint)
    WHERE outcome IS NULL AND tick_id IS NULL AND attempts > attempts_base;

-- What a tick could not send because its environment lacked variables the requests read: an
-- array of {endpoint, variables, not_signing_secrets, tasks_waiting} (names only, never a
-- value); NULL when nothing was missing. `status` reads it from each host's latest ended tick.
ALTER TABLE ticks ADD COLUMN missing_variables jsonb;
CREATE INDEX ticks_by_host_end ON ticks (host, ended_at, seq);

-- `tick --follow` sleeps until the next due time unless woken: a task made, or made due again at
-- another time (a retry, a result that retries), notifies the ticks that listen, at commit.
CREATE FUNCTION notify_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('httpat_tasks', '');
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_notify_on_insert AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tasks();
CREATE TRIGGER tasks_notify_on_due AFTER UPDATE OF next_attempt_at ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tasks();
