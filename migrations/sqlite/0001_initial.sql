-- httpat schema, version 1.
-- Every time is an INTEGER count of milliseconds since 1970-01-01 UTC.

CREATE TABLE endpoints (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    method            TEXT NOT NULL,
    url               TEXT NOT NULL,
    -- JSON array of ["Name", "value as written"]; `${VAR}` stays unexpanded.
    headers           TEXT NOT NULL DEFAULT '[]',
    timeout_ms        INTEGER NOT NULL,
    max_attempts      INTEGER NOT NULL,
    success           TEXT NOT NULL DEFAULT '2xx',
    description       TEXT,
    deprecated_at     INTEGER,
    deprecated_reason TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY,
    -- By name, not by foreign key: a task outlives its endpoint's removal and is then
    -- cancelled by the executor with that reason.
    endpoint          TEXT NOT NULL,
    args              TEXT NOT NULL DEFAULT '{}',
    key               TEXT UNIQUE,
    priority          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER,
    agent             TEXT,
    created_at        INTEGER NOT NULL,
    -- The time asked for (or set again by `retry`).
    due_at            INTEGER NOT NULL,
    -- When the task may next be claimed: due_at, then each retry's backoff.
    next_attempt_at   INTEGER NOT NULL,
    -- Attempts ever started (the number of the latest); fences results to the claiming tick.
    attempts          INTEGER NOT NULL DEFAULT 0,
    -- `attempts` when the budget was last refilled (by `retry`).
    attempts_base     INTEGER NOT NULL DEFAULT 0,
    -- Set while a tick holds the task.
    tick_id           TEXT,
    lease_until       INTEGER,
    -- NULL while unfinished, else 'succeeded', 'failed' or 'cancelled'.
    outcome           TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
    finished_at       INTEGER,
    -- Why the task is in its state (cancel reason, failure summary).
    reason            TEXT,
    -- One line about the latest attempt: "200 OK 84ms", "timeout after 30s".
    last_result       TEXT
);

-- What tick asks every minute: the unclaimed unfinished tasks by the time they may go.
CREATE INDEX tasks_waiting ON tasks (next_attempt_at)
    WHERE outcome IS NULL AND tick_id IS NULL;
-- Recovery of running tasks.
CREATE INDEX tasks_running ON tasks (lease_until) WHERE tick_id IS NOT NULL;
-- `list` in time order, and per-endpoint questions.
CREATE INDEX tasks_by_time ON tasks (next_attempt_at, id);
CREATE INDEX tasks_by_endpoint ON tasks (endpoint, outcome);
-- `prune`: finished tasks by when they finished.
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE outcome IS NOT NULL;

CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY,
    task_id           INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    number            INTEGER NOT NULL,
    tick_id           TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    duration_ms       INTEGER,
    -- NULL while in flight, else 'success', 'retryable', 'permanent', 'interrupted',
    -- 'executor_error'.
    outcome           TEXT,
    status            INTEGER,
    error             TEXT,
    -- The request as sent, with secrets as `${VAR}`: JSON {method, url, headers, body}.
    request           TEXT,
    content_type      TEXT,
    retry_after       TEXT,
    location          TEXT,
    body              BLOB,
    body_truncated    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (task_id, number)
);

CREATE TABLE transitions (
    id                INTEGER PRIMARY KEY,
    task_id           INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at                INTEGER NOT NULL,
    from_state        TEXT,
    to_state          TEXT NOT NULL,
    -- `user:NAME` or a tick's id.
    actor             TEXT NOT NULL,
    detail            TEXT
);
CREATE INDEX transitions_by_task ON transitions (task_id);

CREATE TABLE ticks (
    id                TEXT PRIMARY KEY,
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    recovered         INTEGER NOT NULL DEFAULT 0,
    fired             INTEGER NOT NULL DEFAULT 0,
    sent              INTEGER NOT NULL DEFAULT 0,
    succeeded         INTEGER NOT NULL DEFAULT 0,
    retrying          INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    cancelled         INTEGER NOT NULL DEFAULT 0,
    error             TEXT
);
CREATE INDEX ticks_by_start ON ticks (started_at);
CREATE INDEX ticks_by_end ON ticks (ended_at);
