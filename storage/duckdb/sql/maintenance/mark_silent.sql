-- Running executions nothing was heard of since $2 (their last fact's arrival), except those of
-- service $3 (our engine recovers its own), become $1 ('unknown'); same rank, so the next fact
-- (newer) makes one running again, or ends it (storage/duckdb/execution_summaries.py).
UPDATE executions
SET status = $1
WHERE status_rank = 2
  AND status = 'running'
  AND updated_ns < $2
  AND coalesce(service_name, '') <> $3
