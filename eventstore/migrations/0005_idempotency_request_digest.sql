-- The request an Idempotency-Key was first used with, as a keyed digest (issue 16): a call
-- that reuses the key with another body is refused (422 idempotency_key_reused) instead of
-- being given the first call's result. "<master key id>:<hex HMAC-SHA256>" under a key
-- derived from that master key (gateway/records.py, RequestDigests): the database alone
-- cannot tell what a body was, even for short answers. NULL for records kept before this
-- column; those replay as before.
ALTER TABLE idempotency_records ADD COLUMN request_digest text;
