-- The key of every stored execution summary whose id is a trace id (32 hex digits), to build
-- the writer's Bloom filter of executions: its low 8 bytes as a 64-bit big-endian number. It
-- must equal writer._execution_key() of the same id; other ids are always looked up.
SELECT ('0x' || substr(execution_id, 17))::UBIGINT AS key
FROM executions
WHERE regexp_full_match(execution_id, '[0-9a-f]{32}')
