-- The tasks table is made again with the same columns, rows and indexes, for two changes that
-- SQLite cannot make in place:
--
-- * The check on `outcome` names the three values one by one. Written as `IN (...)`, SQLite
--   built a temporary table of the three words for every insert and every update of an outcome:
--   a sixth of the time of a bulk `schedule --file`.
-- * A key is unique among the tasks that have one, by a partial index: a task without a key (most
--   of them) no longer adds an entry to an index of keys.
--
-- The migration runs with foreign keys off (the store turns them off while it migrates), as
-- SQLite's procedure for such a change asks: dropping the old table must not delete the attempts
-- and transitions that refer to it. They are checked before the migration commits. The trigger
-- on attempts that reads tasks is dropped while no table of that name exists, and made again.
DROP TRIGGER attempt_counts_on_insert;

CREATE TABLE tasks_lean (
    id                INTEGER PRIMARY KEY,
    endpoint          TEXT NOT NULL,
    args              TEXT NOT NULL DEFAULT '{}',
    key               TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER,
    agent             TEXT,
    created_at        INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    attempts_base     INTEGER NOT NULL DEFAULT 0,
    tick_id           TEXT,
    lease_until       INTEGER,
    outcome           TEXT
        CHECK (outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'cancelled'),
    finished_at       INTEGER,
    reason            TEXT,
    last_result       TEXT,
    schedule          TEXT,
    notifies          INTEGER
);

INSERT INTO tasks_lean (id, endpoint, args, key, priority, max_attempts, agent, created_at,
                        due_at, next_attempt_at, attempts, attempts_base, tick_id, lease_until,
                        outcome, finished_at, reason, last_result, schedule, notifies)
    SELECT id, endpoint, args, key, priority, max_attempts, agent, created_at,
           due_at, next_attempt_at, attempts, attempts_base, tick_id, lease_until,
           outcome, finished_at, reason, last_result, schedule, notifies
    FROM tasks;

DROP TABLE tasks;
ALTER TABLE tasks_lean RENAME TO tasks;

CREATE UNIQUE INDEX tasks_key ON tasks (key) WHERE key IS NOT NULL;
CREATE INDEX tasks_waiting ON tasks (next_attempt_at)
    WHERE outcome IS NULL AND tick_id IS NULL;
CREATE INDEX tasks_running ON tasks (lease_until) WHERE tick_id IS NOT NULL;
CREATE INDEX tasks_by_time ON tasks (next_attempt_at, id);
CREATE INDEX tasks_by_endpoint ON tasks (endpoint, outcome);
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE outcome IS NOT NULL;
CREATE INDEX tasks_by_schedule ON tasks (schedule) WHERE schedule IS NOT NULL;
CREATE INDEX tasks_claim ON tasks (priority, next_attempt_at, id)
    WHERE outcome IS NULL AND tick_id IS NULL;
CREATE INDEX tasks_claim_by_endpoint ON tasks (endpoint, priority DESC, next_attempt_at, id)
    WHERE outcome IS NULL AND tick_id IS NULL;
CREATE INDEX tasks_finished_by_endpoint ON tasks (endpoint, outcome, finished_at)
    WHERE outcome IS NOT NULL;
CREATE INDEX tasks_retrying ON tasks (endpoint)
    WHERE outcome IS NULL AND tick_id IS NULL AND attempts > attempts_base;

-- The kept counts' triggers, the same again (migrations 5 and 6).
CREATE TRIGGER attempt_counts_on_insert AFTER INSERT ON attempts
WHEN NEW.outcome IS NOT NULL
BEGIN
    INSERT INTO attempt_counts (endpoint, outcome, n)
        SELECT endpoint, NEW.outcome, 1 FROM tasks WHERE id = NEW.task_id
        ON CONFLICT (endpoint, outcome) DO UPDATE SET n = n + 1;
END;
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
WHEN OLD.tick_id IS NULL AND NEW.tick_id IS NULL
BEGIN
    UPDATE task_counts SET n = n - 1 WHERE phase =
        CASE WHEN OLD.outcome IS NOT NULL THEN OLD.outcome
             WHEN OLD.attempts > OLD.attempts_base THEN 'retrying'
             ELSE 'waiting' END;
    UPDATE task_counts SET n = n + 1 WHERE phase =
        CASE WHEN NEW.outcome IS NOT NULL THEN NEW.outcome
             WHEN NEW.attempts > NEW.attempts_base THEN 'retrying'
             ELSE 'waiting' END;
END;
