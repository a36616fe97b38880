-- The summary rows of one part of the sealed UTC days [$from_day, $until_day) (ns: [$from_ns,
-- $until_ns)): the workflows whose hash falls in part $part of $parts (step_summaries.py: the
-- maintenance keeps each run short; the rebuild takes every day in one part). Rows already
-- there for them (a late run's stale day recomputed before this part ran) are replaced: a
-- part counts each span once, whatever ran before. A workflow's rows are stored together
-- (its reads skip the other workflows' vectors).
DELETE FROM step_summaries
WHERE day >= $from_day AND day < $until_day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT;

INSERT INTO step_summaries
WITH part_spans AS (
    SELECT *
    FROM spans
    WHERE start_ns >= $from_ns::UBIGINT AND start_ns < $until_ns::UBIGINT
      AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
)
SELECT * FROM step_summary_rows(part_spans, $from_ns::UBIGINT, $until_ns::UBIGINT)
ORDER BY workspace_id, workflow_id, step_id
