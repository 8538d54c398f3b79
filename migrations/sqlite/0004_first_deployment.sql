-- httpat schema, version 4: what the first real deployment needed.

-- TLS per endpoint: paths to PEM files, read when a request is sent (a renewed certificate needs
-- no new registration). NULL: the system's trust store alone, no client certificate.
ALTER TABLE endpoints ADD COLUMN ca_file TEXT;
ALTER TABLE endpoints ADD COLUMN client_cert TEXT;
ALTER TABLE endpoints ADD COLUMN client_key TEXT;
-- Signing secrets: a JSON array of the names of the variables that hold them (never a value).
ALTER TABLE endpoints ADD COLUMN signing_secrets TEXT NOT NULL DEFAULT '[]';

-- Limits across every tick: at most this many in flight; at most N started in any window
-- (`10/s`, `600/m`, `1000/h`). NULL: no limit.
ALTER TABLE endpoints ADD COLUMN max_in_flight INTEGER CHECK (max_in_flight > 0);
ALTER TABLE endpoints ADD COLUMN rate TEXT;
-- What a claim walks for an endpoint with a limit: its own waiting tasks, in claim order.
CREATE INDEX tasks_claim_by_endpoint ON tasks (endpoint, priority DESC, next_attempt_at, id)
    WHERE outcome IS NULL AND tick_id IS NULL;
-- The starts counted against endpoints' rates (`--rate`), each at the moment (Unix ms) its
-- request may leave; kept for a window, then forgotten. A claim given back takes its start with
-- it.
CREATE TABLE limit_starts (
    task_id           INTEGER NOT NULL,
    number            INTEGER NOT NULL,
    endpoint          TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    PRIMARY KEY (task_id, number)
) WITHOUT ROWID;
CREATE INDEX limit_starts_by_endpoint ON limit_starts (endpoint, started_at);

-- Where a tick ran: a later tick frees a dead tick's tasks before their lease expires only when
-- both ran on the same host, in the same boot and the same pid namespace (two containers with
-- one host name see each other's pids as absent).
ALTER TABLE ticks ADD COLUMN host TEXT;
ALTER TABLE ticks ADD COLUMN boot_id TEXT;
ALTER TABLE ticks ADD COLUMN pid_ns TEXT;
UPDATE ticks SET host = substr(id, 1, instr(id, ':') - 1) WHERE instr(id, ':') > 0;
CREATE INDEX ticks_by_host ON ticks (host, started_at);

-- The highest task id ever given, so that an id freed by `prune` is never given again.
CREATE TABLE id_marks (
    name              TEXT PRIMARY KEY,
    high              INTEGER NOT NULL
);
INSERT INTO id_marks (name, high) VALUES ('tasks', (SELECT coalesce(max(id), 0) FROM tasks));
