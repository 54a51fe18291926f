-- Web UI activity (as SQLite's 0008): who pushed a tag, and pulls per UTC day for the usage
-- center's top lists and 30-day history.

-- The user whose manifest PUT last set the tag; NULL when unknown. Reset with the tag.
ALTER TABLE tags ADD COLUMN pushed_by TEXT;

-- Pulls per UTC day, repository and image, written in batches from memory; days beyond the
-- kept window are pruned.
CREATE TABLE pulls_daily (
    day         BIGINT NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    image       TEXT COLLATE "C" NOT NULL,
    pulls       BIGINT NOT NULL,
    PRIMARY KEY (day, repository, image)
);
