-- Berth metadata, first schema. Blob bytes live in blob stores; this database records which
-- image may serve which blob, the manifests and their references, and tags.

-- An image is an OCI repository name (e.g. library/redis) inside a Berth repository.
CREATE TABLE images (
    id          INTEGER PRIMARY KEY,
    repository  TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (repository, name)
);

-- Every blob a store holds, once per store (content-addressed, shared between images).
CREATE TABLE blobs (
    store       TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (store, digest)
);

-- Which image may serve which blob (pushed, mounted or referenced there).
CREATE TABLE image_blobs (
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (image_id, digest)
);

CREATE TABLE manifests (
    image_id      INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (image_id, subject) WHERE subject IS NOT NULL;

-- What a manifest references: its config and layers (kind 'blob') or index children
-- (kind 'manifest'). Used by garbage collection and to refuse dangling deletes later.
CREATE TABLE manifest_refs (
    image_id         INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    manifest_digest  TEXT NOT NULL,
    ref_digest       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    PRIMARY KEY (image_id, manifest_digest, ref_digest)
);

CREATE TABLE tags (
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (image_id, name)
);
