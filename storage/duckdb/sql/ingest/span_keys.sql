-- The span dedupe key of every stored span, to build the writer's Bloom filter
-- (collector/seen.py): the low 8 bytes of the trace id XOR the span id, as 64-bit
-- big-endian numbers. It must equal collector.convert.span_key() of the same ids (which
-- keys incoming spans); the start time is no part of it.
SELECT xor(('0x' || substr(trace_id, 17))::UBIGINT, ('0x' || span_id)::UBIGINT) AS key FROM spans
