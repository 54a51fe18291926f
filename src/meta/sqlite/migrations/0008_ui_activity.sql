-- Web UI (issue 18): who pushed a tag, and pulls per UTC day for the usage center's top
-- lists and 30-day history.

-- The user whose manifest PUT last set the tag; NULL when unknown (anonymous, security
-- off, or pushed before this column existed). Reset with the tag, like last_downloaded.
ALTER TABLE tags ADD COLUMN pushed_by TEXT;

-- Pulls (manifest GETs by tag) per UTC day, repository and image, written in batches from
-- memory with the last-downloaded times. Days beyond the kept window are pruned.
CREATE TABLE pulls_daily (
    day         INTEGER NOT NULL,
    repository  TEXT NOT NULL,
    image       TEXT NOT NULL,
    pulls       INTEGER NOT NULL,
    PRIMARY KEY (day, repository, image)
);
