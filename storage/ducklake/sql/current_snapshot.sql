-- The lake's latest snapshot id (a commit's: storage/ducklake/writer.py compares it before and
-- after a commit to know whether another one landed meanwhile).
SELECT id FROM ducklake_current_snapshot(current_database())
