-- As SQLite's 0010.
-- One page of an image's referrers (`GET /v2/<name>/referrers/<digest>` with several nodes,
-- answered from the database on every request) walks an index in digest order and stops at
-- the page: (image_id, subject) alone left every referrer of the subject to read and sort.
-- The filtered form (`artifactType=`) needs the type before the digest to do the same. The
-- old index is a prefix of the new one (cleanup's "referrers whose subject is present").
DROP INDEX manifests_by_subject;
CREATE INDEX manifests_referrers ON manifests (image_id, subject, digest)
    WHERE subject IS NOT NULL;
CREATE INDEX manifests_referrers_by_type ON manifests (image_id, subject, artifact_type, digest)
    WHERE subject IS NOT NULL;
