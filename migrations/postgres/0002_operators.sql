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

-- The counters below are kept in shards, one per writing connection (its backend pid): two
-- transactions at once never touch the same counter row, so ticks recording results together
-- never wait on one another, nor deadlock, over a count. A reader sums the shards; the shards of
-- connections that have ended are folded into shard 0 now and then (`fold_counts`).

-- Attempts ever finished, per endpoint and attempt outcome: a counter that never decreases, not
-- even when `prune` deletes the attempts it counted.
CREATE TABLE attempt_counts (
    endpoint          text NOT NULL,
    outcome           text NOT NULL,
    shard             integer NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (endpoint, outcome, shard)
);
INSERT INTO attempt_counts (endpoint, outcome, shard, n)
    SELECT t.endpoint, a.outcome, 0, count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
    WHERE a.outcome IS NOT NULL GROUP BY t.endpoint, a.outcome;

CREATE FUNCTION count_attempt() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO attempt_counts (endpoint, outcome, shard, n)
        SELECT endpoint, NEW.outcome, pg_backend_pid(), 1 FROM tasks WHERE id = NEW.task_id
        ON CONFLICT (endpoint, outcome, shard) DO UPDATE SET n = attempt_counts.n + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER attempt_counts_on_insert AFTER INSERT ON attempts
    FOR EACH ROW WHEN (NEW.outcome IS NOT NULL) EXECUTE FUNCTION count_attempt();
CREATE TRIGGER attempt_counts_on_finish AFTER UPDATE OF outcome ON attempts
    FOR EACH ROW WHEN (OLD.outcome IS NULL AND NEW.outcome IS NOT NULL)
    EXECUTE FUNCTION count_attempt();

-- Tasks per phase, kept by the triggers below as tasks are made, change and are pruned. A
-- phase is a state without the clock: 'waiting' is `scheduled` or `due` (the due ones are
-- counted by time, over the waiting index), the others are the states of the same name.
CREATE TABLE task_counts (
    phase             text NOT NULL,
    shard             integer NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (phase, shard)
);

CREATE FUNCTION task_phase(outcome text, tick_id text, attempts integer, attempts_base integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN outcome IS NOT NULL THEN outcome
                WHEN tick_id IS NOT NULL THEN 'running'
                WHEN attempts > attempts_base THEN 'retrying'
                ELSE 'waiting' END
$$;

INSERT INTO task_counts (phase, shard, n)
    SELECT task_phase(outcome, tick_id, attempts, attempts_base), 0, count(*) FROM tasks
    GROUP BY 1;

CREATE FUNCTION count_task() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    was text;
    now_in text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := task_phase(OLD.outcome, OLD.tick_id, OLD.attempts, OLD.attempts_base);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        now_in := task_phase(NEW.outcome, NEW.tick_id, NEW.attempts, NEW.attempts_base);
    END IF;
    IF was IS NOT DISTINCT FROM now_in THEN
        RETURN NULL;
    END IF;
    IF was IS NOT NULL THEN
        INSERT INTO task_counts (phase, shard, n) VALUES (was, pg_backend_pid(), -1)
            ON CONFLICT (phase, shard) DO UPDATE SET n = task_counts.n - 1;
    END IF;
    IF now_in IS NOT NULL THEN
        INSERT INTO task_counts (phase, shard, n) VALUES (now_in, pg_backend_pid(), 1)
            ON CONFLICT (phase, shard) DO UPDATE SET n = task_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER task_counts_on_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION count_task();
CREATE TRIGGER task_counts_on_delete AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION count_task();
CREATE TRIGGER task_counts_on_update AFTER UPDATE OF outcome, tick_id, attempts, attempts_base
    ON tasks FOR EACH ROW EXECUTE FUNCTION count_task();

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
