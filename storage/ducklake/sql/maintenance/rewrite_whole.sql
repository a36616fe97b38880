-- Table {table} (a few rows of the nodes' shared state) rewritten whole in one transaction:
-- deleting every row drops its files (DuckLake ends a file whose rows are all deleted, with no
-- delete file), and its live rows go back in as one new commit.
CREATE OR REPLACE TEMP TABLE flowscope_rewrite AS SELECT * FROM lake.main.{table};
DELETE FROM lake.main.{table};
INSERT INTO lake.main.{table} SELECT * FROM flowscope_rewrite;
DROP TABLE flowscope_rewrite;
