-- The coordinator board's and the compliance report's read models (`samverkan board`,
-- `samverkan report`), kept by the ``board`` projection (eventstore/projections/board.py).
-- No personal data: case numbers, municipality, plain-words deadline names, agencies,
-- states and times only; never the subject, the report's summary or consultation questions.

CREATE TABLE board_cases (
    case_id       text        PRIMARY KEY,
    case_number   text        NOT NULL,
    municipality  text        NOT NULL,
    state         text        NOT NULL,
    urgent        boolean     NOT NULL,
    received_at   timestamptz NOT NULL,
    closed_at     timestamptz
);
-- open cases by state, and reports per month
CREATE INDEX board_cases_open_idx ON board_cases (municipality, state) WHERE state <> 'closed';
CREATE INDEX board_cases_received_idx ON board_cases (municipality, received_at);

CREATE TABLE board_deadlines (
    case_id           text        NOT NULL,
    key               text        NOT NULL,
    case_number       text        NOT NULL,
    municipality      text        NOT NULL,
    kind              text        NOT NULL,
    name              text        NOT NULL,  -- plain words, e.g. 'Answer from police (consultation 1)'
    start             timestamptz NOT NULL,
    legal_latest      timestamptz NOT NULL,
    status            text        NOT NULL,  -- open, met, met_late, breached
    met_at            timestamptz,
    pending           boolean     NOT NULL,  -- not yet settled (CaseState.deadline_is_settled)
    suspended         boolean     NOT NULL,
    extended          boolean     NOT NULL,  -- a decided extension (pre-assessment, investigation)
    escalation_rungs  integer[]   NOT NULL,
    legal_reference   text,                  -- e.g. 'SoL (2025:400) 20 kap. 2 §' (None: agreed)
    PRIMARY KEY (case_id, key)
);
-- due soon, overdue and unresolved escalations: the pending ones, by due time
CREATE INDEX board_deadlines_pending_idx ON board_deadlines (municipality, legal_latest)
    WHERE pending;
-- compliance per month: statutory deadlines by the day their period started
CREATE INDEX board_deadlines_start_idx ON board_deadlines (municipality, kind, start);

CREATE TABLE board_consultations (
    case_id          text        NOT NULL,
    consultation_id  text        NOT NULL,
    case_number      text        NOT NULL,
    municipality     text        NOT NULL,
    agency           text        NOT NULL,
    status           text        NOT NULL,  -- requested, acknowledged, answered, declined, expired
    requested_at     timestamptz NOT NULL,
    ended_at         timestamptz,           -- answered, declined or expired
    PRIMARY KEY (case_id, consultation_id)
);
CREATE INDEX board_consultations_waiting_idx ON board_consultations (municipality, requested_at)
    WHERE status IN ('requested', 'acknowledged');
CREATE INDEX board_consultations_requested_idx
    ON board_consultations (municipality, requested_at);
