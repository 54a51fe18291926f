//! The referrers API with several nodes: a referrer pushed through node A is listed by node
//! B at once (no announcement awaited), with the `artifactType` filter and pagination
//! whose pages come from either node; and B answers each request with one page query:
//! a flood of referrers GETs never loads the image (`berth_image_loads_total` stays put).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::cluster::Cluster;
use crate::common::metrics::{scrape, value};
use crate::common::*;
use crate::head_manifest;

const SIG: &str = "application/vnd.example.signature";
const SBOM: &str = "application/vnd.example.sbom.v1+json";
const NAME: &str = "team/refs";

/// Pushes through `app` an artifact of `artifact_type` about `subject`; its digest.
async fn push_referrer(app: &TestApp, artifact_type: &str, subject: &Image, note: &str) -> String {
    let empty = app.push_blob(NAME, b"{}").await;
    let payload = format!("{artifact_type}: {note}");
    let layer = app.push_blob(NAME, payload.as_bytes()).await;
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer, "size": payload.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest,
                    "size": subject.manifest.len()},
        "annotations": {"org.example.note": note}
    })
    .to_string();
    let digest = sha256(manifest.as_bytes());
    let r = app
        .put_manifest(NAME, &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    expect_status(r, 201, "referrer").await;
    digest
}

/// One page of referrers from `app`: its digests (in order) and the next page's path.
async fn page(app: &TestApp, path: &str) -> (Vec<String>, Option<String>) {
    let r = app.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    let link = header(&r, "link");
    let index: Value = r.json().await.unwrap();
    let digests = index["manifests"]
        .as_array()
        .expect("manifests array")
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    let next = (!link.is_empty()).then(|| {
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        link[1..link.find('>').unwrap()].to_string()
    });
    (digests, next)
}

/// Every page from `first`, alternating between `nodes`; the digests and the page count.
async fn all_pages(nodes: [&TestApp; 2], first: &str) -> (Vec<String>, usize) {
    let (mut seen, mut pages) = (Vec::new(), 0);
    let mut path = Some(first.to_string());
    while let Some(p) = path {
        let (digests, next) = page(nodes[pages % 2], &p).await;
        seen.extend(digests);
        pages += 1;
        path = next;
    }
    (seen, pages)
}

/// `berth_image_loads_total` of `app` (0 before the first load).
async fn image_loads(app: &TestApp) -> f64 {
    value(&scrape(app).await, "berth_image_loads_total", &[]).unwrap_or(0.0)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn referrers_pushed_on_one_node_are_listed_filtered_and_paged_by_the_other_at_once() {
    // Arrange: pages of at most 2 descriptors; the subject pushed through A.
    let Some(mut cluster) = Cluster::start(0, "").await else {
        return;
    };
    for _ in 0..2 {
        cluster.add_node(&["BERTH_LIMITS__PAGE_MAX=2"]).await;
    }
    let (a, b) = (cluster.node(0), cluster.node(1));
    let subject = Image::seeded("referred");
    a.push(NAME, "v1", &subject).await;
    let list = format!("/v2/{NAME}/referrers/{}", subject.digest);
    let sboms = format!("{list}?artifactType={}", SBOM.replace('+', "%2B"));

    // Act + Assert: each referrer pushed through A is on B's list right away, no polling:
    // B reads the database, it does not wait for A's announcement.
    let (mut all, mut of_type) = (Vec::new(), Vec::new());
    for i in 0..6 {
        let kind = if i % 3 == 2 { SIG } else { SBOM };
        let digest = push_referrer(a, kind, &subject, &format!("n{i}")).await;
        all.push(digest.clone());
        if kind == SBOM {
            of_type.push(digest.clone());
        }
        let (listed, _) = all_pages([b, b], &list).await;
        assert!(
            listed.contains(&digest),
            "referrer {i} not on B's list: {listed:?}"
        );
    }

    // Pages from either node, with and without the filter: digest order, nothing lost or
    // repeated, the filter kept in every `Link`.
    let (listed, pages) = all_pages([b, a], &list).await;
    assert_eq!((listed.clone(), pages), (sorted(all.clone()), 3));
    let (listed, pages) = all_pages([a, b], &sboms).await;
    assert_eq!((listed, pages), (sorted(of_type.clone()), 2));
    let (sigs, _) = page(b, &format!("{list}?artifactType={SIG}")).await;
    assert_eq!(sigs.len(), 2, "{sigs:?}");

    // A referrer deleted on A leaves B's list at once too.
    let gone = of_type[0].clone();
    assert_eq!(a.delete(&format!("/v2/{NAME}/manifests/{gone}")).await, 202);
    let (listed, _) = all_pages([b, b], &sboms).await;
    assert!(!listed.contains(&gone), "{listed:?}");
}

#[tokio::test]
async fn a_flood_of_referrers_gets_on_a_node_never_loads_the_image() {
    // Arrange: the subject and 3 referrers pushed through A.
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let subject = Image::seeded("flooded");
    a.push(NAME, "v1", &subject).await;
    let mut pushed = Vec::new();
    for i in 0..3 {
        pushed.push(push_referrer(a, SIG, &subject, &format!("f{i}")).await);
    }
    let loads_before = image_loads(b).await;
    let cached_before = value(&scrape(b).await, "berth_image_cache_images", &[]).unwrap_or(0.0);

    // Act: 200 referrers GETs on B, 50 at a time, with and without a filter, and one more
    // referrer pushed through A halfway.
    let list = format!("/v2/{NAME}/referrers/{}", subject.digest);
    let filtered = format!("{list}?artifactType={SIG}");
    let mut answers = Vec::new();
    for round in 0..4 {
        if round == 2 {
            pushed.push(push_referrer(a, SIG, &subject, "late").await);
        }
        let gets = (0..50).map(|i| page(b, if i % 2 == 0 { &list } else { &filtered }));
        answers.push(futures_util::future::join_all(gets).await);
    }

    // Assert: every answer lists what had been pushed before its round; B read no image
    // state from the database (each GET was one page query; before, each reloaded the
    // image through its actor) and its image cache did not grow.
    for (round, answer) in answers.iter().enumerate() {
        let expected = sorted(pushed[..if round < 2 { 3 } else { 4 }].to_vec());
        for (listed, next) in answer {
            assert_eq!((listed, next), (&expected, &None), "round {round}");
        }
    }
    assert_eq!(image_loads(b).await, loads_before, "{}", cluster.logs());
    let cached = value(&scrape(b).await, "berth_image_cache_images", &[]).unwrap_or(0.0);
    assert!(
        cached <= cached_before,
        "{cached} images cached, {cached_before} before"
    );
    // B still serves the image itself (a miss: loaded once now).
    assert_eq!(head_manifest(b, &format!("/v2/{NAME}"), "v1").await.0, 200);
    assert_eq!(image_loads(b).await, loads_before + 1.0);
}
