-- httpat schema, version 2: recurring schedules.

CREATE TABLE schedules (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    endpoint          TEXT NOT NULL,
    -- The cron expression as given, read in `zone` (an IANA name, so a DST change moves with it).
    cron              TEXT NOT NULL,
    zone              TEXT NOT NULL,
    args              TEXT NOT NULL DEFAULT '{}',
    priority          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER,
    paused_at         INTEGER,
    -- The next firing: a tick at or after it makes one task and moves it on.
    next_fire_at      INTEGER NOT NULL,
    last_fire_at      INTEGER,
    last_task_id      INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX schedules_next ON schedules (next_fire_at) WHERE paused_at IS NULL;

-- The schedule that made a task (by name; the task outlives the schedule).
ALTER TABLE tasks ADD COLUMN schedule TEXT;
CREATE INDEX tasks_by_schedule ON tasks (schedule) WHERE schedule IS NOT NULL;
