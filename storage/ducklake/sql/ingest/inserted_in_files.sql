-- The rows other_*_keys.sql reads: the rows of the Parquet files $files, which the snapshots
-- `inserted_files` names added (other_files.sql), read as plain Parquet: a lake's data files
-- never change once written, and a file a snapshot added holds the rows it inserted.
(SELECT inserted_files.snapshot_id, added.* EXCLUDE (filename)
 FROM read_parquet($files, filename = true) AS added
 JOIN inserted_files ON inserted_files.path = added.filename)
