-- A store's used bytes (SUM(size) WHERE store = ?, read at every start and by the admin API)
-- from the index alone: through the primary key it visited every row of the table, which
-- took seconds at a million blobs.
CREATE INDEX blobs_size_by_store ON blobs (store, size);
