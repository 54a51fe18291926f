-- Berth metadata on PostgreSQL: the schema SQLite reaches after its migrations 0001–0007,
-- in one step (a PostgreSQL database starts empty; there is nothing older to upgrade).
-- Times are Unix seconds (BIGINT), as in SQLite, so both backends share the model. Text
-- compares and sorts by bytes (COLLATE "C"), as in SQLite: pagination by name (`last=`)
-- must not depend on the server's locale.

-- An image is an OCI repository name (e.g. library/redis) inside a Berth repository.
CREATE TABLE images (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository  TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (repository, name)
);

-- Every blob a store holds, once per store (content-addressed, shared between images).
CREATE TABLE blobs (
    store       TEXT COLLATE "C" NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (store, digest)
);

-- Which image may serve which blob; `touched_at` renews the GC grace window on re-upload.
CREATE TABLE image_blobs (
    image_id    BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest      TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    touched_at  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (image_id, digest)
);
CREATE INDEX image_blobs_by_digest ON image_blobs (digest);

CREATE TABLE manifests (
    image_id      BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL,
    media_type    TEXT COLLATE "C" NOT NULL,
    size          BIGINT NOT NULL,
    artifact_type TEXT COLLATE "C",
    subject       TEXT COLLATE "C",
    annotations   TEXT COLLATE "C",
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (image_id, subject) WHERE subject IS NOT NULL;
CREATE INDEX manifests_by_digest ON manifests (digest);

-- What a manifest references: config and layers (kind 'blob') or index children
-- (kind 'manifest').
CREATE TABLE manifest_refs (
    image_id         BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    manifest_digest  TEXT COLLATE "C" NOT NULL,
    ref_digest       TEXT COLLATE "C" NOT NULL,
    kind             TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (image_id, manifest_digest, ref_digest)
);
CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref_digest);

-- `last_downloaded`: when the tag was last pulled; NULL: never since it was (re)tagged.
CREATE TABLE tags (
    image_id        BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    name            TEXT COLLATE "C" NOT NULL,
    digest          TEXT COLLATE "C" NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_downloaded BIGINT,
    PRIMARY KEY (image_id, name)
);

-- Definitions: Berth's own JSON model, one document per key.
CREATE TABLE repositories (name TEXT COLLATE "C" PRIMARY KEY, config TEXT COLLATE "C" NOT NULL);
CREATE TABLE blob_stores (name TEXT COLLATE "C" PRIMARY KEY, config TEXT COLLATE "C" NOT NULL);
CREATE TABLE cleanup_policies (name TEXT COLLATE "C" PRIMARY KEY, config TEXT COLLATE "C" NOT NULL);
CREATE TABLE tasks (id TEXT COLLATE "C" PRIMARY KEY, config TEXT COLLATE "C" NOT NULL);

-- Security: users (argon2id hashes inside the record), roles, custom privileges, settings.
CREATE TABLE security_users (user_id TEXT COLLATE "C" PRIMARY KEY, record TEXT COLLATE "C" NOT NULL);
CREATE TABLE security_roles (id TEXT COLLATE "C" PRIMARY KEY, record TEXT COLLATE "C" NOT NULL);
CREATE TABLE security_privileges (name TEXT COLLATE "C" PRIMARY KEY, record TEXT COLLATE "C" NOT NULL);
CREATE TABLE security_settings (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);

-- Usage window: requests per hour (hour start, Unix seconds); 401s kept apart.
CREATE TABLE usage_hours (
    hour          BIGINT PRIMARY KEY,
    requests      BIGINT NOT NULL,
    unauthorized  BIGINT NOT NULL
);
