-- Keys, agency credentials, the gateway's audit log and idempotency records (issue 7).
-- None of these tables holds personal data in clear: data keys are wrapped by a master key
-- from the environment, personal event fields are AES-GCM ciphertext under their case's key.

-- One data key per scope (``case-<case number>`` or ``namespace:<name>``), stored wrapped.
-- Crypto-shredding sets wrapped_key to NULL and keeps the row as a tombstone, so the scope
-- never gets a new key and the shredding itself stays on record.
CREATE TABLE data_keys (
    key_id          text        PRIMARY KEY,
    scope           text        NOT NULL UNIQUE,
    master_key_id   text,
    wrapped_key     bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    shredded_at     timestamptz,
    CONSTRAINT data_keys_live_or_shredded CHECK (
        (wrapped_key IS NOT NULL AND master_key_id IS NOT NULL AND shredded_at IS NULL)
        OR (wrapped_key IS NULL AND master_key_id IS NULL AND shredded_at IS NOT NULL)
    )
);
COMMENT ON TABLE data_keys IS
    'Per-case data keys, wrapped by a master key (SAMVERKAN_MASTER_KEYS); NULL = shredded.';

-- Personal fields of events, encrypted with the case's data key (eventstore/encrypted.py).
-- The events row keeps a redaction marker in their place, so the audit trail reads
-- (and validates) with or without the key.
CREATE TABLE event_personal_data (
    event_id    uuid        NOT NULL,
    field       text        NOT NULL,
    case_id     text        NOT NULL,
    key_id      text        NOT NULL REFERENCES data_keys (key_id),
    ciphertext  bytea       NOT NULL,
    PRIMARY KEY (event_id, field)
);
CREATE INDEX event_personal_data_case_idx ON event_personal_data (case_id);

-- Agency API keys: only the SHA-256 of a 256-bit random key is kept.
CREATE TABLE agency_credentials (
    key_hash     text        PRIMARY KEY CHECK (length(key_hash) = 64),
    agency       text        NOT NULL,
    key_prefix   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX agency_credentials_agency_idx ON agency_credentials (agency);

-- Every gateway call: who, which route, which consultation, the outcome. No bodies.
CREATE TABLE gateway_audit (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    agency           text,
    method           text        NOT NULL,
    route            text        NOT NULL,
    consultation_id  text,
    status           integer     NOT NULL,
    outcome          text        NOT NULL,
    request_id       text        NOT NULL
);
CREATE INDEX gateway_audit_agency_idx ON gateway_audit (agency, at);

-- First result of a call made with an Idempotency-Key (per agency). Response bodies here
-- hold ids and outcomes only, never the request's text.
CREATE TABLE idempotency_records (
    agency           text        NOT NULL,
    idempotency_key  text        NOT NULL,
    route            text        NOT NULL,
    consultation_id  text        NOT NULL,
    status           integer     NOT NULL,
    body             jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, idempotency_key)
);
