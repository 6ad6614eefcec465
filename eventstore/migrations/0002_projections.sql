-- Read models (projections) and their checkpoints. A projection writes its rows and its
-- checkpoint in one transaction, so a crash never leaves rows ahead of or behind it.
-- No personal data here: the rows hold what CaseState.to_summary shows, never the subject,
-- the report's summary, consultation questions or harm-assessment texts.

CREATE TABLE projection_checkpoints (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE case_summary (
    case_id               text        PRIMARY KEY,
    case_number           text        NOT NULL,
    municipality          text        NOT NULL,
    state                 text        NOT NULL,
    urgent                boolean     NOT NULL,
    next_deadline_key     text,
    next_deadline_at      timestamptz,
    overdue_count         integer     NOT NULL,
    open_consultations    integer     NOT NULL,
    escalations_raised    integer     NOT NULL,
    next_expected_action  text        NOT NULL,
    version               integer     NOT NULL,
    last_event_at         timestamptz NOT NULL
);
COMMENT ON COLUMN case_summary.overdue_count IS
    'Pending deadlines past legal_latest as of the case''s last event (deterministic, so a '
    'rebuild equals the live row); for "now", ask deadlines where status = ''open'' or ''breached''';
CREATE INDEX case_summary_state_idx ON case_summary (state);
CREATE INDEX case_summary_municipality_idx ON case_summary (municipality);
CREATE INDEX case_summary_next_deadline_idx ON case_summary (next_deadline_at);

CREATE TABLE open_consultations (
    case_id          text        NOT NULL,
    consultation_id  text        NOT NULL,
    agency           text        NOT NULL,
    status           text        NOT NULL,
    legal_basis      text        NOT NULL,
    acute            boolean     NOT NULL,
    requested_at     timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    due              timestamptz,
    PRIMARY KEY (case_id, consultation_id)
);
CREATE INDEX open_consultations_agency_idx ON open_consultations (agency, due);

CREATE TABLE deadlines (
    case_id             text        NOT NULL,
    key                 text        NOT NULL,
    kind                text        NOT NULL,
    agency              text,
    start               timestamptz NOT NULL,
    target              timestamptz NOT NULL,
    legal_latest        timestamptz NOT NULL,
    moved_because       text[]      NOT NULL,
    calendar            text        NOT NULL,
    status              text        NOT NULL,  -- open, met, met_late, breached
    met_at              timestamptz,
    breached_at         timestamptz,
    suspended           boolean     NOT NULL,
    escalation_rungs    integer[]   NOT NULL,
    PRIMARY KEY (case_id, key)
);
CREATE INDEX deadlines_open_idx ON deadlines (legal_latest) WHERE status IN ('open', 'breached');
CREATE INDEX deadlines_kind_status_idx ON deadlines (kind, status);

CREATE TABLE disclosures (
    position          bigint      PRIMARY KEY,
    event_id          uuid        NOT NULL UNIQUE,
    case_id           text        NOT NULL,
    consultation_id   text        NOT NULL,
    recipient         text        NOT NULL,
    legal_basis       text        NOT NULL,
    legal_reference   jsonb,
    harm_result       text        NOT NULL,
    fields            text[]      NOT NULL,
    disclosed_at      timestamptz NOT NULL,
    decided_by        text        NOT NULL,
    recorded_at       timestamptz NOT NULL
);
COMMENT ON TABLE disclosures IS
    'Audit log of every disclosure of personal data (DESIGN §2): basis, harm result, recipient, '
    'field names, time, decider. The harm assessment text stays in the event (personal data).';
CREATE INDEX disclosures_case_idx ON disclosures (case_id);
CREATE INDEX disclosures_recipient_idx ON disclosures (recipient, disclosed_at);
