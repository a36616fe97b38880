-- A table's rows of commits small enough to be inlined into catalog rows, written out as Parquet.
SELECT coalesce(sum(rows_flushed), 0)::BIGINT FROM ducklake_flush_inlined_data('lake', table_name => $table)
