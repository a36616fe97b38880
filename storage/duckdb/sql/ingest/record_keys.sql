-- The dedupe key of every stored log record, to build the writer's Bloom filter of records
-- (storage/seen.py): its content hash, as the collector computed it (convert.content_hash).
SELECT record_hash AS key FROM logs
