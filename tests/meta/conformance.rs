//! The cases. Each takes an empty database and checks one contract of a trait.

use std::time::{SystemTime, UNIX_EPOCH};

use berth::meta::{
    BrowseKind, DocKind, ManifestRecord, Meta, MetaError, NewManifest, ReferrersPage,
    SecurityTable, TagWrite, UsageHour,
};
use berth::oci::{Digest, ImageName, Tag};
use serde_json::json;

/// Instantiates every case for one backend: `$open` is an async expression giving
/// `Some((guard, Meta))` over an empty database, the guard kept until the case ends, or
/// `None` to skip (an engine that is missing where its skip variable allows it).
#[macro_export]
macro_rules! conformance {
    ($open:expr) => {
        $crate::conformance!(@cases $open;
            image_records_round_trip, tag_moves, allow_once_is_conditional, link_and_unlink,
            gc_live_set, gc_forget_blobs, usage_hours_round_trip, documents_crud,
            delete_repository_removes_images, security_records, reports_count_and_list,
            cleanup_facts_and_downloads, referrers_page_by_subject_type_and_last);
    };
    (@cases $open:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some((_guard, meta)) = $open.await else { return };
                $crate::conformance::$case(&meta).await;
            }
        )*
    };
}

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", hex::encode([n; 32]))).unwrap()
}

fn image(s: &str) -> ImageName {
    ImageName::parse(s).unwrap()
}

fn tag(s: &str) -> Tag {
    Tag::parse(s).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn manifest(d: &Digest, size: u64) -> ManifestRecord {
    ManifestRecord {
        digest: d.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size,
        artifact_type: None,
        subject: None,
    }
}

/// Stores manifest `m` (referencing `blobs`) under `tags`, all allowed to move.
async fn put(meta: &Meta, id: i64, m: &Digest, blobs: &[Digest], tags: &[Tag]) {
    let record = manifest(m, 100);
    let writes: Vec<TagWrite> = tags.iter().map(TagWrite::moving).collect();
    let new = NewManifest {
        record: &record,
        blobs,
        children: &[],
    };
    meta.images()
        .put_manifest("default", id, &new, &writes)
        .await
        .unwrap();
}

fn sorted_tags(record: &berth::meta::ImageRecord) -> Vec<(String, Digest)> {
    let mut tags = record.tags.clone();
    tags.sort();
    tags
}

pub async fn image_records_round_trip(meta: &Meta) {
    let images = meta.images();
    let name = image("library/app");
    assert_eq!(images.find_image("hosted", &name).await.unwrap(), None);
    assert!(!images.image_has_content("hosted", &name).await.unwrap());
    assert!(!images.repository_has_images("hosted").await.unwrap());
    let id = images.ensure_image("hosted", &name).await.unwrap();
    assert_eq!(images.ensure_image("hosted", &name).await.unwrap(), id);
    assert_eq!(images.find_image("hosted", &name).await.unwrap(), Some(id));
    assert!(!images.image_has_content("hosted", &name).await.unwrap());
    assert!(images.repository_has_images("hosted").await.unwrap());
    // An empty image is not listed: only images holding a manifest are.
    assert!(images
        .list_images("hosted", None, 10)
        .await
        .unwrap()
        .is_empty());

    let (config, layer, m, child) = (digest(1), digest(2), digest(3), digest(4));
    images.link_blob("default", id, &config, 10).await.unwrap();
    assert!(images.image_has_content("hosted", &name).await.unwrap());
    assert!(!images.image_has_content("other", &name).await.unwrap());
    images.link_blob("default", id, &layer, 2000).await.unwrap();
    let mut record = manifest(&m, 500);
    record.artifact_type = Some("application/x-test".into());
    record.subject = Some(digest(9));
    let children = [child.clone()];
    let blobs = [config.clone(), layer.clone()];
    let new = NewManifest {
        record: &record,
        blobs: &blobs,
        children: &children,
    };
    let (v1, latest) = (tag("v1"), tag("latest"));
    images
        .put_manifest(
            "default",
            id,
            &new,
            &[TagWrite::moving(&v1), TagWrite::moving(&latest)],
        )
        .await
        .unwrap();

    let loaded = images.load_image(id).await.unwrap();
    assert_eq!(
        sorted_tags(&loaded),
        vec![("latest".into(), m.clone()), ("v1".into(), m.clone())]
    );
    assert_eq!(loaded.manifests.len(), 1);
    let got = &loaded.manifests[0];
    assert_eq!(
        (&got.digest, got.size, &got.media_type),
        (&m, 500, &record.media_type)
    );
    assert_eq!(got.artifact_type.as_deref(), Some("application/x-test"));
    assert_eq!(got.subject, Some(digest(9)));
    let mut blobs = loaded.blobs.clone();
    blobs.sort();
    assert_eq!(blobs, vec![(config.clone(), 10), (layer.clone(), 2000)]);

    assert_eq!(
        images.manifests_using_blob(id, &layer).await.unwrap(),
        vec![m.to_string()]
    );
    assert!(images.is_listed_by_index(id, child.as_str()).await.unwrap());
    assert!(!images.is_listed_by_index(id, m.as_str()).await.unwrap());
    assert_eq!(
        images.list_images("hosted", None, 10).await.unwrap(),
        vec!["library/app".to_string()]
    );
    assert!(images
        .list_images("hosted", Some("library/app"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        images.images_linking("hosted", &layer, 5).await.unwrap(),
        vec!["library/app".to_string()]
    );
    assert!(images
        .images_linking("other", &layer, 5)
        .await
        .unwrap()
        .is_empty());
    // Storing the same manifest again (a re-push) changes nothing visible.
    images
        .put_manifest("default", id, &new, &[TagWrite::moving(&v1)])
        .await
        .unwrap();
    assert_eq!(images.load_image(id).await.unwrap().manifests.len(), 1);
}

pub async fn tag_moves(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("hosted", &image("app")).await.unwrap();
    let (a, b) = (digest(1), digest(2));
    put(meta, id, &a, &[], &[tag("t"), tag("keep")]).await;
    put(meta, id, &b, &[], &[tag("t")]).await;
    let loaded = images.load_image(id).await.unwrap();
    assert_eq!(
        sorted_tags(&loaded),
        vec![("keep".into(), a.clone()), ("t".into(), b.clone())]
    );
    assert!(images.delete_tag(id, &tag("t")).await.unwrap());
    assert!(!images.delete_tag(id, &tag("t")).await.unwrap());
    // Deleting a manifest takes its tags with it and says which.
    assert_eq!(
        images.delete_manifest(id, &a).await.unwrap(),
        Some(vec!["keep".to_string()])
    );
    assert_eq!(images.delete_manifest(id, &a).await.unwrap(), None);
    let loaded = images.load_image(id).await.unwrap();
    assert!(loaded.tags.is_empty());
    assert_eq!(loaded.manifests.len(), 1);
}

pub async fn allow_once_is_conditional(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("hosted", &image("app")).await.unwrap();
    let (a, b) = (digest(1), digest(2));
    let (t, other) = (tag("1.0"), tag("other"));
    let (ra, rb) = (manifest(&a, 10), manifest(&b, 20));
    let new = |r| NewManifest {
        record: r,
        blobs: &[],
        children: &[],
    };
    images
        .put_manifest("default", id, &new(&ra), &[TagWrite::once(&t)])
        .await
        .unwrap();
    // Re-pointing at the digest it has is allowed.
    images
        .put_manifest("default", id, &new(&ra), &[TagWrite::once(&t)])
        .await
        .unwrap();
    let err = images
        .put_manifest(
            "default",
            id,
            &new(&rb),
            &[TagWrite::moving(&other), TagWrite::once(&t)],
        )
        .await
        .unwrap_err();
    match err {
        MetaError::TagExists { tag, current } => {
            assert_eq!((tag.as_str(), current.as_str()), ("1.0", a.as_str()))
        }
        e => panic!("expected TagExists, got {e}"),
    }
    // All or nothing: neither the manifest nor the other tag of the refused write stayed.
    let loaded = images.load_image(id).await.unwrap();
    assert_eq!(sorted_tags(&loaded), vec![("1.0".into(), a.clone())]);
    assert_eq!(loaded.manifests.len(), 1);
    // A tag that may move, moves.
    images
        .put_manifest("default", id, &new(&rb), &[TagWrite::moving(&t)])
        .await
        .unwrap();
    let loaded = images.load_image(id).await.unwrap();
    assert_eq!(sorted_tags(&loaded), vec![("1.0".into(), b.clone())]);
}

pub async fn link_and_unlink(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("hosted", &image("app")).await.unwrap();
    let blob = digest(7);
    images.link_blob("default", id, &blob, 42).await.unwrap();
    // Linking again renews the link; it stays one link.
    images.link_blob("default", id, &blob, 42).await.unwrap();
    assert_eq!(
        images.load_image(id).await.unwrap().blobs,
        vec![(blob.clone(), 42)]
    );
    assert!(images.unlink_blob(id, &blob).await.unwrap());
    assert!(!images.unlink_blob(id, &blob).await.unwrap());
    assert!(images.load_image(id).await.unwrap().blobs.is_empty());
    // The store's inventory still lists the blob: only GC forgets it.
    assert_eq!(
        meta.gc().store_blobs("default").await.unwrap(),
        vec![(blob.to_string(), 42)]
    );
}

pub async fn gc_live_set(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("r1", &image("app")).await.unwrap();
    let elsewhere = images.ensure_image("r2", &image("app")).await.unwrap();
    let (layer, m, loose, foreign) = (digest(1), digest(2), digest(3), digest(4));
    images.link_blob("default", id, &layer, 1).await.unwrap();
    images.link_blob("default", id, &loose, 1).await.unwrap();
    images
        .link_blob("default", elsewhere, &foreign, 1)
        .await
        .unwrap();
    put(meta, id, &m, std::slice::from_ref(&layer), &[tag("t")]).await;
    let repos = vec!["r1".to_string()];
    let gc = meta.gc();

    // Recent links protect their blobs.
    let live = gc.live_digests(&repos, now() - 3600).await.unwrap();
    for d in [&layer, &m, &loose] {
        assert!(live.contains(d.as_str()), "{d} should be live");
    }
    assert!(
        !live.contains(foreign.as_str()),
        "another repository's blob"
    );

    // Past the grace window only what manifests reference stays.
    let cutoff = now() + 3600;
    let live = gc.live_digests(&repos, cutoff).await.unwrap();
    assert!(live.contains(layer.as_str()) && live.contains(m.as_str()));
    assert!(!live.contains(loose.as_str()));
    assert!(gc.is_live(&repos, layer.as_str(), cutoff).await.unwrap());
    assert!(gc.is_live(&repos, m.as_str(), cutoff).await.unwrap());
    assert!(!gc.is_live(&repos, loose.as_str(), cutoff).await.unwrap());
    assert!(gc
        .is_live(&repos, loose.as_str(), now() - 3600)
        .await
        .unwrap());

    // Several repositories at once, and none.
    let both = vec!["r1".to_string(), "r2".to_string()];
    let live = gc.live_digests(&both, now() - 3600).await.unwrap();
    assert!(live.contains(foreign.as_str()));
    assert!(gc.live_digests(&[], 0).await.unwrap().is_empty());
    assert!(!gc.is_live(&[], m.as_str(), 0).await.unwrap());
}

pub async fn gc_forget_blobs(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("r1", &image("app")).await.unwrap();
    let other = images.ensure_image("r2", &image("app")).await.unwrap();
    let (dead, kept) = (digest(1), digest(2));
    images.link_blob("default", id, &dead, 5).await.unwrap();
    images.link_blob("default", other, &dead, 5).await.unwrap();
    images.link_blob("default", id, &kept, 6).await.unwrap();
    let repos = vec!["r1".to_string()];
    let never = digest(3);
    let out = meta
        .gc()
        .forget_blobs("default", &repos, &[dead.as_str(), never.as_str()])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            (vec![("r1".to_string(), "app".to_string())], Some(5)),
            (vec![], None)
        ]
    );
    let mut left = meta.gc().store_blobs("default").await.unwrap();
    left.sort();
    assert_eq!(left, vec![(kept.to_string(), 6)]);
    // Only the named repositories' links go.
    assert_eq!(images.load_image(id).await.unwrap().blobs, vec![(kept, 6)]);
    assert_eq!(
        images.load_image(other).await.unwrap().blobs,
        vec![(dead, 5)]
    );
}

pub async fn usage_hours_round_trip(meta: &Meta) {
    let usage = meta.usage();
    let h = |hour, requests, unauthorized| UsageHour {
        hour,
        requests,
        unauthorized,
    };
    usage
        .save_usage_hours(&[h(3600, 5, 1), h(7200, 7, 0)], 0)
        .await
        .unwrap();
    // Counters are deltas: each node writes what it counted since its last write, so a
    // second write of an hour adds to it (nodes sharing the database sum up).
    usage
        .save_usage_hours(&[h(7200, 9, 2), h(10800, 1, 0)], 7200)
        .await
        .unwrap();
    assert_eq!(
        usage.usage_hours(0).await.unwrap(),
        vec![h(7200, 16, 2), h(10800, 1, 0)]
    );
    assert_eq!(
        usage.usage_hours(10800).await.unwrap(),
        vec![h(10800, 1, 0)]
    );
    assert_eq!(usage.total_components().await.unwrap(), 0);
    let id = meta
        .images()
        .ensure_image("r", &image("app"))
        .await
        .unwrap();
    put(meta, id, &digest(1), &[], &[tag("a"), tag("b")]).await;
    assert_eq!(usage.total_components().await.unwrap(), 2);
}

pub async fn documents_crud(meta: &Meta) {
    let docs = meta.documents();
    for kind in [
        DocKind::Repositories,
        DocKind::BlobStores,
        DocKind::CleanupPolicies,
        DocKind::Tasks,
    ] {
        assert!(docs.load_documents(kind).await.unwrap().is_empty());
        docs.save_document(kind, "b", r#"{"v":1}"#).await.unwrap();
        docs.save_document(kind, "a", r#"{"v":2}"#).await.unwrap();
        docs.save_document(kind, "b", r#"{"v":3}"#).await.unwrap();
        // Ordered by key, replaced in place.
        assert_eq!(
            docs.load_documents(kind).await.unwrap(),
            vec![r#"{"v":2}"#.to_string(), r#"{"v":3}"#.to_string()],
            "{kind:?}"
        );
        assert!(docs.delete_document(kind, "a").await.unwrap());
        assert!(!docs.delete_document(kind, "a").await.unwrap());
        assert_eq!(docs.load_documents(kind).await.unwrap().len(), 1);
    }
    // Kinds are apart.
    docs.delete_document(DocKind::Tasks, "b").await.unwrap();
    assert_eq!(
        docs.load_documents(DocKind::Repositories)
            .await
            .unwrap()
            .len(),
        1
    );
    meta.ping().await.unwrap();
}

pub async fn delete_repository_removes_images(meta: &Meta) {
    let docs = meta.documents();
    docs.save_document(DocKind::Repositories, "gone", "{}")
        .await
        .unwrap();
    docs.save_document(DocKind::Repositories, "stays", "{}")
        .await
        .unwrap();
    let images = meta.images();
    let id = images.ensure_image("gone", &image("app")).await.unwrap();
    put(meta, id, &digest(1), &[], &[tag("t")]).await;
    let kept = images.ensure_image("stays", &image("app")).await.unwrap();
    meta.delete_repository("gone").await.unwrap();
    assert!(!images.repository_has_images("gone").await.unwrap());
    assert_eq!(
        images.find_image("stays", &image("app")).await.unwrap(),
        Some(kept)
    );
    assert_eq!(
        docs.load_documents(DocKind::Repositories)
            .await
            .unwrap()
            .len(),
        1
    );
    // The blob inventory stays for GC.
    assert_eq!(meta.gc().store_blobs("default").await.unwrap().len(), 1);
}

pub async fn security_records(meta: &Meta) {
    let records = meta.security();
    let alice = json!({"user_id": "alice", "roles": ["dev"]});
    records
        .put(SecurityTable::Users, "alice", &alice)
        .await
        .unwrap();
    records
        .put(SecurityTable::Users, "bob", &json!({"user_id": "bob"}))
        .await
        .unwrap();
    records
        .put(SecurityTable::Roles, "dev", &json!({"id": "dev"}))
        .await
        .unwrap();
    records
        .put(SecurityTable::Settings, "anonymous", &true)
        .await
        .unwrap();
    let users: Vec<serde_json::Value> = records.load(SecurityTable::Users).await.unwrap();
    assert_eq!(users.len(), 2);
    let got: Option<serde_json::Value> = records.get(SecurityTable::Users, "alice").await.unwrap();
    assert_eq!(got, Some(alice));
    // Tables are apart: a role is no user.
    let none: Option<serde_json::Value> = records.get(SecurityTable::Users, "dev").await.unwrap();
    assert_eq!(none, None);
    let changed = json!({"user_id": "alice", "roles": []});
    records
        .put(SecurityTable::Users, "alice", &changed)
        .await
        .unwrap();
    let got: Option<serde_json::Value> = records.get(SecurityTable::Users, "alice").await.unwrap();
    assert_eq!(got, Some(changed));
    records.delete(SecurityTable::Users, "alice").await.unwrap();
    let users: Vec<serde_json::Value> = records.load(SecurityTable::Users).await.unwrap();
    assert_eq!(users, vec![json!({"user_id": "bob"})]);
    let anonymous: Option<bool> = records
        .get(SecurityTable::Settings, "anonymous")
        .await
        .unwrap();
    assert_eq!(anonymous, Some(true));
}

pub async fn reports_count_and_list(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("r1", &image("app")).await.unwrap();
    let id2 = images.ensure_image("r1", &image("web")).await.unwrap();
    let (layer, m) = (digest(1), digest(2));
    images.link_blob("default", id, &layer, 1000).await.unwrap();
    images
        .link_blob("default", id2, &layer, 1000)
        .await
        .unwrap();
    put(
        meta,
        id,
        &m,
        std::slice::from_ref(&layer),
        &[tag("v1"), tag("v2")],
    )
    .await;
    let reports = meta.reports();
    let counts = reports.component_counts().await.unwrap();
    assert_eq!(counts.get("r1"), Some(&2));
    assert_eq!(counts.get("r2"), None);
    // A layer shared by two images of one repository counts once.
    let totals = reports.repository_blob_totals().await.unwrap();
    assert_eq!(totals.get("r1"), Some(&(1, 1000)));
    assert_eq!(reports.repository_usage("r1").await.unwrap(), (1100, 2));
    assert_eq!(reports.repository_usage("none").await.unwrap(), (0, 0));
    assert_eq!(reports.store_usage("default").await.unwrap(), (1100, 2));

    let tags = reports
        .browse("r1", BrowseKind::Tags, None, 10)
        .await
        .unwrap();
    let paths: Vec<&str> = tags.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, vec!["/v2/app/manifests/v1", "/v2/app/manifests/v2"]);
    assert_eq!(tags[0].tag.as_deref(), Some("v1"));
    assert_eq!(tags[0].size, 100);
    let assets = reports
        .browse("r1", BrowseKind::Assets, None, 100)
        .await
        .unwrap();
    // 2 tags + 1 manifest by digest + 2 blob links, in path order.
    assert_eq!(assets.len(), 5);
    assert!(assets.windows(2).all(|w| w[0].path < w[1].path));
    let after = reports
        .browse("r1", BrowseKind::Assets, Some(&assets[1].path), 2)
        .await
        .unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].path, assets[2].path);
}

pub async fn cleanup_facts_and_downloads(meta: &Meta) {
    let images = meta.images();
    let id = images.ensure_image("r1", &image("app")).await.unwrap();
    let (tagged, untagged) = (digest(1), digest(2));
    put(meta, id, &tagged, &[], &[tag("t")]).await;
    put(meta, id, &untagged, &[], &[]).await;
    let cleanup = meta.cleanup();
    let facts = cleanup.cleanup_tags("r1").await.unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].last_downloaded, None);
    let untagged_facts = cleanup.cleanup_untagged("r1").await.unwrap();
    assert_eq!(untagged_facts.len(), 1);
    assert_eq!(untagged_facts[0].digest, untagged.to_string());
    assert!(cleanup.cleanup_children("r1").await.unwrap().is_empty());

    let pull = |at| ("r1".to_string(), "app".to_string(), "t".to_string(), at);
    cleanup.record_downloads(&[pull(2000)]).await.unwrap();
    // A time never moves backwards.
    cleanup.record_downloads(&[pull(1000)]).await.unwrap();
    let facts = cleanup.cleanup_tags("r1").await.unwrap();
    assert_eq!(facts[0].last_downloaded, Some(2000));
    cleanup.record_downloads(&[pull(3000)]).await.unwrap();
    let facts = cleanup.cleanup_tags("r1").await.unwrap();
    assert_eq!(facts[0].last_downloaded, Some(3000));
    // Re-tagging starts the pull time over.
    put(meta, id, &tagged, &[], &[tag("t")]).await;
    let facts = cleanup.cleanup_tags("r1").await.unwrap();
    assert_eq!(facts[0].last_downloaded, None);
}

/// One page of referrers: those of the subject only, in this image only, filtered by
/// artifact type, after `last`, at most `limit`, in digest order, with their records.
pub async fn referrers_page_by_subject_type_and_last(meta: &Meta) {
    let images = meta.images();
    let (name, other) = (image("app"), image("other"));
    let id = images.ensure_image("hosted", &name).await.unwrap();
    let other_id = images.ensure_image("hosted", &other).await.unwrap();
    let (subject, unrelated) = (digest(200), digest(201));
    let store = |id: i64, d: Digest, kind: &'static str, about: Digest| async move {
        let mut record = manifest(&d, 10 + d.as_str().len() as u64);
        record.artifact_type = Some(kind.into());
        record.subject = Some(about);
        let new = NewManifest {
            record: &record,
            blobs: &[],
            children: &[],
        };
        meta.images()
            .put_manifest("default", id, &new, &[])
            .await
            .unwrap();
    };
    // Pushed out of digest order; odd ones signatures, even ones SBOMs.
    for n in [5u8, 1, 4, 2, 3, 6] {
        let kind = if n % 2 == 1 { "sig" } else { "sbom" };
        store(id, digest(n), kind, subject.clone()).await;
    }
    store(id, digest(7), "sig", unrelated.clone()).await;
    store(other_id, digest(8), "sig", subject.clone()).await;
    put(meta, id, &digest(9), &[], &[]).await;
    let page = |artifact_type, after, limit| ReferrersPage {
        subject: &subject,
        artifact_type,
        after,
        limit,
    };
    let digests = |records: Vec<ManifestRecord>| -> Vec<Digest> {
        records.into_iter().map(|r| r.digest).collect()
    };

    let all = images
        .referrers("hosted", &name, &page(None, None, 10))
        .await
        .unwrap();
    assert_eq!(all[0].artifact_type.as_deref(), Some("sig"));
    assert_eq!(all[0].subject, Some(subject.clone()));
    assert_eq!(all[0].size, 10 + digest(1).as_str().len() as u64);
    assert_eq!(digests(all), (1..=6).map(digest).collect::<Vec<_>>());
    let first = images
        .referrers("hosted", &name, &page(None, None, 2))
        .await
        .unwrap();
    assert_eq!(digests(first), vec![digest(1), digest(2)]);
    let after = digest(2);
    let next = images
        .referrers("hosted", &name, &page(None, Some(&after), 2))
        .await
        .unwrap();
    assert_eq!(digests(next), vec![digest(3), digest(4)]);
    let sigs = images
        .referrers("hosted", &name, &page(Some("sig"), Some(&after), 10))
        .await
        .unwrap();
    assert_eq!(digests(sigs), vec![digest(3), digest(5)]);
    let none = images
        .referrers("hosted", &name, &page(Some("none"), None, 10))
        .await
        .unwrap();
    assert!(none.is_empty());
    let elsewhere = images
        .referrers("hosted", &image("nobody"), &page(None, None, 10))
        .await
        .unwrap();
    assert!(elsewhere.is_empty());
    let other_image = images
        .referrers("hosted", &other, &page(None, None, 10))
        .await
        .unwrap();
    assert_eq!(digests(other_image), vec![digest(8)]);
}
