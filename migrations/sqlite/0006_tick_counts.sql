-- The counts of tasks per phase and of finished attempts that move with a tick's work (a claim,
-- a result, a release, a recovery: every change of `tasks.tick_id`, and every attempt that gets
-- its outcome after it was inserted) are kept by the store's own code, in the transaction that
-- makes the change: a trigger per row cost a drain about a quarter of its speed. The triggers
-- go on counting every other change (insertions and deletions, cancel, retry, an endpoint's
-- tasks moved).
DROP TRIGGER task_counts_on_update;
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
DROP TRIGGER attempt_counts_on_finish;
