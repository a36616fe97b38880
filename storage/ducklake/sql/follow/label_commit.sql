-- The label of the commit in progress (storage/ducklake/labels.py), stored with its snapshot.
CALL ducklake_set_commit_message(current_database(), $author, $node_id, extra_info => $extra_info);
