-- How many spans a span-metrics query aggregates (its cost is this times the windows a span
-- falls in).
SELECT count(*) FROM (
{matching_spans}
) AS matching;
