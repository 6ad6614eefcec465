-- The case file's system of record (DESIGN §4): one row per domain event, append-only.
--
-- Gap-free global order: every INSERT into events first takes one transaction-scoped
-- advisory lock (statement trigger below), so positions are drawn and committed one
-- transaction at a time and a reader can never see position n+1 before position n
-- commits. See eventstore/postgres.py for the reasoning and its cost.

CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    case_id         text        NOT NULL CHECK (length(case_id) BETWEEN 1 AND 64),
    version         integer     NOT NULL CHECK (version >= 1),
    type            text        NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    actor           text        NOT NULL,
    data            jsonb       NOT NULL,
    CONSTRAINT events_case_version_key UNIQUE (case_id, version)
);

COMMENT ON TABLE events IS
    'Domain events of every case (DESIGN §4). Append-only: rows are upcast on read, never rewritten.';

-- Serialise appenders: the lock is held until commit, so commit order = position order.
CREATE FUNCTION events_append_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7269001);
    PERFORM pg_notify('samverkan_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_append_lock
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_lock();

-- Stored events are never rewritten (upcasters change how they read, not what is stored).
CREATE FUNCTION events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: position % cannot be updated', OLD.position
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_refuse_update
    BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_update();
