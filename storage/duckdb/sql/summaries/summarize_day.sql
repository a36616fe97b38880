-- The summary rows of one sealed UTC day [$from_ns, $until_ns), every workflow's
-- (step_summaries.py: the maintenance), a workflow's rows together (its reads skip the
-- other workflows' vectors). The day has no rows yet: it is the first not sealed.
INSERT INTO step_summaries
SELECT * FROM step_summary_rows(spans, $from_ns::UBIGINT, $until_ns::UBIGINT)
ORDER BY workspace_id, workflow_id, step_id
