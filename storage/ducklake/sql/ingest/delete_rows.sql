-- Delete the rows listed (the copies span_copies.sql / log_copies.sql found) from {table}.
DELETE FROM {table} WHERE rowid IN (SELECT unnest($rowids::BIGINT[]))
