-- Table {table}'s rows in the files $paths whose trace ids are in [$low, $high) (NULL: open
-- end) inserted again in trace id order, into new files of the table's target size, each of
-- one narrow range of ids (key_ranges.py). Part of one transaction with key_order_delete.sql.
-- The files are sorted by trace id inside, so each range reads only its row groups of them.
INSERT INTO lake.main.{table}
SELECT * FROM lake.main.{table}
WHERE filename IN (SELECT unnest($paths::VARCHAR[]))
  AND ($low IS NULL OR trace_id >= $low)
  AND ($high IS NULL OR trace_id < $high)
ORDER BY trace_id;
