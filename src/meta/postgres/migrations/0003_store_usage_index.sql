-- A store's used bytes (SUM(size) WHERE store = $1, read at every start and by the admin
-- API) by an index-only scan rather than a visit of every row of the table.
CREATE INDEX blobs_size_by_store ON blobs (store, size);
