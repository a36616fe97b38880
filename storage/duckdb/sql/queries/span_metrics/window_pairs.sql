-- How many (span, window) pairs a span-metrics query aggregates: the measure of its cost.
SELECT coalesce(sum(k_last - k_first + 1), 0) FROM (
{matching_spans}
) AS matching;
