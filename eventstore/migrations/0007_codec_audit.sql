-- Who decoded what, where (issue: "It audits every decode: who, namespace, how many payloads,
-- never content"). The codec endpoint (gateway/codec_routes.py) writes the OIDC subject of the
-- Web UI or CLI user, the namespace (municipality) the call named when the endpoint serves it,
-- and how many payloads it answered; never a payload. Agency API calls leave subject NULL
-- (``agency`` already says who: the agency an API key belongs to). NULL in rows from before
-- this migration.
ALTER TABLE gateway_audit
    ADD COLUMN subject text,
    ADD COLUMN namespace text,
    ADD COLUMN payload_count integer CHECK (payload_count >= 0);
-- who read a municipality's payloads, by time
CREATE INDEX gateway_audit_namespace_idx ON gateway_audit (namespace, at)
    WHERE namespace IS NOT NULL;
