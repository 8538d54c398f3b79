-- httpat schema, version 4: what the first real deployment needed.

-- TLS per endpoint: paths to PEM files, read when a request is sent (a renewed certificate needs
-- no new registration). NULL: the system's trust store alone, no client certificate.
ALTER TABLE endpoints ADD COLUMN ca_file TEXT;
ALTER TABLE endpoints ADD COLUMN client_cert TEXT;
ALTER TABLE endpoints ADD COLUMN client_key TEXT;
-- Signing secrets: a JSON array of the names of the variables that hold them (never a value).
ALTER TABLE endpoints ADD COLUMN signing_secrets TEXT NOT NULL DEFAULT '[]';

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
