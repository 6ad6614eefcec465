-- Keys bound to the namespace (municipality) that first used them. A case key was scoped by
-- case number alone, region-wide: another municipality's worker could start a workflow with
-- the same case number and use (and adopt intake keys into) that case's key, and the codec
-- endpoint decoded any key under any namespace its caller held. infra/keys.py now hands a
-- key only to the namespace it is bound to (KeyOfAnotherNamespace otherwise).
-- NULL: a key made before this migration, claimed by the first namespace that uses it
-- (UPDATE ... WHERE namespace IS NULL: atomic, so two namespaces cannot both claim it).
ALTER TABLE data_keys ADD COLUMN namespace text;
COMMENT ON COLUMN data_keys.namespace IS
    'The Temporal namespace the key is bound to (NULL: made before binding, claimed on first use).';
-- A namespace key belongs to its own namespace, whatever uses it first.
UPDATE data_keys SET namespace = substr(scope, length('namespace:') + 1)
    WHERE scope LIKE 'namespace:%';
-- No index: keys are looked up by key_id and scope (both unique), never by namespace.
