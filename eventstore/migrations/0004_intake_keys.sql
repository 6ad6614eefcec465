-- Intake keys (issue 16): /codec/encode seals each request under a fresh single-use data key
-- of scope ``intake:<random>``. The first time a worker decodes such a payload for a case (or
-- one of its consultations) the key is adopted by that case: owner_scope is set to the case's
-- scope, once, atomically. Shredding a case destroys its own key and every key it adopted;
-- intake keys never adopted are shredded after a short lifetime by the retention run.
ALTER TABLE data_keys ADD COLUMN owner_scope text;
COMMENT ON COLUMN data_keys.owner_scope IS
    'The case scope that adopted this intake key (NULL: not adopted, or not an intake key).';
CREATE INDEX data_keys_owner_scope_idx ON data_keys (owner_scope)
    WHERE owner_scope IS NOT NULL;
CREATE INDEX data_keys_unadopted_intake_idx ON data_keys (created_at)
    WHERE owner_scope IS NULL AND wrapped_key IS NOT NULL AND scope LIKE 'intake:%';
