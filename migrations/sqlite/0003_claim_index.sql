-- httpat schema, version 3: claims walk the waiting tasks by priority, then time, then id,
-- one priority level at a time.
CREATE INDEX tasks_claim ON tasks (priority, next_attempt_at, id)
    WHERE outcome IS NULL AND tick_id IS NULL;
