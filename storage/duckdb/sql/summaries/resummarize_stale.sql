-- The summary rows of the (workspace, workflow)s marked stale on one UTC day
-- [$from_ns, $until_ns), from their spans, after summarize_stale's delete took the old
-- rows out (same transaction). Only the stale workflows' spans are aggregated.
INSERT INTO step_summaries
WITH stale_spans AS (
    SELECT *
    FROM spans
    SEMI JOIN (
        SELECT workspace_id, workflow_id FROM step_summaries_stale WHERE day = $day
    ) s USING (workspace_id, workflow_id)
    WHERE start_ns >= $from_ns::UBIGINT AND start_ns < $until_ns::UBIGINT
)
SELECT * FROM step_summary_rows(stale_spans, $from_ns::UBIGINT, $until_ns::UBIGINT)
ORDER BY workspace_id, workflow_id, step_id
