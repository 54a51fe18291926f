//! Content discovery, referrers (spec "Listing referrers", "Pushing manifests with
//! subject"): `OCI-Subject` on push even before the subject exists, the referrers index
//! with artifact types and annotations, the `artifactType` filter.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::support::*;

const SIG: &str = "application/vnd.example.signature";
const SBOM: &str = "application/vnd.example.sbom";

/// Pushes an artifact of `artifact_type` about `subject`; returns (digest, size, response).
async fn push_referrer(
    app: &TestApp,
    name: &str,
    artifact_type: &str,
    subject: (&str, usize),
    note: Option<&str>,
) -> (String, usize, reqwest::Response) {
    push_empty_config(app, name).await;
    let payload = format!("{artifact_type} about {}", subject.0);
    let layer = app.push_blob(name, payload.as_bytes()).await;
    let manifest = artifact_manifest(artifact_type, (&layer, payload.len()), Some(subject), note);
    let digest = sha256(manifest.as_bytes());
    let r = app
        .put_manifest(name, &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    (digest, manifest.len(), r)
}

/// GETs the referrers of `subject`, asserting 200 and the exact index content type.
async fn referrers(app: &TestApp, name: &str, subject: &str, query: &str) -> (Value, String) {
    let r = app
        .req(
            Method::GET,
            &format!("/v2/{name}/referrers/{subject}{query}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    let filters = header(&r, "oci-filters-applied");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["schemaVersion"], 2);
    assert_eq!(body["mediaType"], OCI_INDEX);
    (body, filters)
}

fn digests_of(index: &Value) -> Vec<String> {
    let mut d: Vec<String> = index["manifests"]
        .as_array()
        .expect("manifests array")
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    d.sort();
    d
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_manifest_whose_subject_does_not_exist_yet_is_accepted_with_oci_subject() {
    // Arrange
    let app = spawn_app().await;
    let subject = sha256(b"an image pushed later");
    // Act
    let (digest, _, r) = push_referrer(&app, "ref/early", SIG, (&subject, 1234), None).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "oci-subject"), subject);
    let (index, _) = referrers(&app, "ref/early", &subject, "").await;
    assert_eq!(digests_of(&index), vec![digest]);
}

#[tokio::test]
async fn referrers_list_describes_each_referrer_with_type_size_and_annotations() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/list", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let (sig, sig_size, r) = push_referrer(&app, "ref/list", SIG, subject, Some("signed")).await;
    assert_eq!(header(&r, "oci-subject"), image.digest);
    let (sbom, _, _) = push_referrer(&app, "ref/list", SBOM, subject, Some("sbom")).await;
    // Act
    let (index, filters) = referrers(&app, "ref/list", &image.digest, "").await;
    // Assert
    assert_eq!(filters, "");
    assert_eq!(digests_of(&index), sorted(vec![sig.clone(), sbom]));
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["digest"] == sig.as_str())
        .unwrap();
    assert_eq!(entry["mediaType"], OCI_MANIFEST);
    assert_eq!(entry["size"], sig_size);
    assert_eq!(entry["artifactType"], SIG);
    assert_eq!(
        entry["annotations"],
        serde_json::json!({"org.example.note": "signed"})
    );
}

#[tokio::test]
async fn artifact_type_filter_returns_matching_referrers_and_says_so() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/filter", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let (sig, _, _) = push_referrer(&app, "ref/filter", SIG, subject, None).await;
    push_referrer(&app, "ref/filter", SBOM, subject, None).await;
    // Act
    let query = format!("?artifactType={SIG}");
    let (index, filters) = referrers(&app, "ref/filter", &image.digest, &query).await;
    let none_query = "?artifactType=application/vnd.example.none";
    let (none, none_filters) = referrers(&app, "ref/filter", &image.digest, none_query).await;
    // Assert
    assert_eq!(filters, "artifactType");
    assert_eq!(digests_of(&index), vec![sig]);
    assert_eq!(none_filters, "artifactType");
    assert!(digests_of(&none).is_empty());
}

#[tokio::test]
async fn an_image_manifest_without_artifact_type_is_listed_with_its_config_media_type() {
    // Arrange: like the suite's "A-config" referrer: the config type is the artifact type.
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/config", "v1", "subject").await;
    let config = b"NHL Peanut Butter on my NHL bagel";
    let config_type = "application/vnd.nhl.peanut.butter.bagel";
    let c = app.push_blob("ref/config", config).await;
    let empty = push_empty_config(&app, "ref/config").await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[{}],"subject":{},"annotations":{{"org.opencontainers.conformance.test":"test config a"}}}}"#,
        descriptor(config_type, &c, config.len()),
        descriptor(EMPTY_JSON, &empty, 2),
        descriptor(OCI_MANIFEST, &image.digest, image.manifest.len())
    );
    let digest = sha256(manifest.as_bytes());
    let r = app
        .put_manifest("ref/config", &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "oci-subject"), image.digest);
    // Act
    let query = format!("?artifactType={config_type}");
    let (index, _) = referrers(&app, "ref/config", &image.digest, &query).await;
    // Assert
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert_eq!(entries[0]["artifactType"], config_type);
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.conformance.test"],
        "test config a"
    );
}

#[tokio::test]
async fn an_index_with_a_subject_is_a_referrer_too() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/index", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let (child, child_size, _) = push_referrer(&app, "ref/index", SIG, subject, None).await;
    let extra = format!(
        r#","artifactType":"application/vnd.food.stand","subject":{},"annotations":{{"org.example.note":"test index"}}"#,
        descriptor(OCI_MANIFEST, &image.digest, image.manifest.len())
    );
    let index = oci_index(&[(OCI_MANIFEST, &child, child_size)], &extra);
    let digest = sha256(index.as_bytes());
    // Act
    let r = app
        .put_manifest("ref/index", &digest, OCI_INDEX, index.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "oci-subject"), image.digest);
    let (list, _) = referrers(&app, "ref/index", &image.digest, "").await;
    assert_eq!(digests_of(&list), sorted(vec![child, digest.clone()]));
    let entry = list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["digest"] == digest.as_str())
        .unwrap();
    assert_eq!(entry["mediaType"], OCI_INDEX);
    assert_eq!(entry["artifactType"], "application/vnd.food.stand");
}

#[tokio::test]
async fn referrers_of_an_unknown_digest_or_image_are_an_empty_list() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "ref/empty", "v1", "subject").await;
    let unknown = sha256(b"hello world");
    // Act
    let (in_image, _) = referrers(&app, "ref/empty", &unknown, "").await;
    let (no_image, _) = referrers(&app, "ref/nobody", &unknown, "").await;
    // Assert
    assert_eq!(in_image["manifests"], serde_json::json!([]));
    assert_eq!(no_image["manifests"], serde_json::json!([]));
}

#[tokio::test]
async fn referrers_are_scoped_to_their_image_name() {
    // Arrange
    let app = spawn_app().await;
    let subject = sha256(b"shared subject");
    push_referrer(&app, "ref/here", SIG, (&subject, 10), None).await;
    // Act
    let (elsewhere, _) = referrers(&app, "ref/there", &subject, "").await;
    // Assert
    assert!(digests_of(&elsewhere).is_empty());
}

#[tokio::test]
async fn deleting_a_referrer_removes_it_from_the_list() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/delete", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let (gone, _, _) = push_referrer(&app, "ref/delete", SIG, subject, None).await;
    let (kept, _, _) = push_referrer(&app, "ref/delete", SBOM, subject, None).await;
    // Act
    let r = app
        .req(Method::DELETE, &format!("/v2/ref/delete/manifests/{gone}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 202);
    let (index, _) = referrers(&app, "ref/delete", &image.digest, "").await;
    assert_eq!(digests_of(&index), vec![kept]);
}

#[tokio::test]
async fn deleting_the_subject_keeps_its_referrers_listed() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/orphan", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let (sig, _, _) = push_referrer(&app, "ref/orphan", SIG, subject, None).await;
    // Act
    let r = app
        .req(
            Method::DELETE,
            &format!("/v2/ref/orphan/manifests/{}", image.digest),
        )
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 202);
    let (index, _) = referrers(&app, "ref/orphan", &image.digest, "").await;
    assert_eq!(digests_of(&index), vec![sig]);
}

#[tokio::test]
async fn an_index_referrer_without_artifact_type_is_listed_without_one() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/plainindex", "v1", "subject").await;
    let extra = format!(
        r#","subject":{}"#,
        descriptor(OCI_MANIFEST, &image.digest, image.manifest.len())
    );
    let index = oci_index(
        &[(OCI_MANIFEST, &image.digest, image.manifest.len())],
        &extra,
    );
    let digest = sha256(index.as_bytes());
    let r = app
        .put_manifest("ref/plainindex", &digest, OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    // Act
    let (list, _) = referrers(&app, "ref/plainindex", &image.digest, "").await;
    // Assert
    let entries = list["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert!(entries[0].get("artifactType").is_none(), "{}", entries[0]);
}

#[tokio::test]
async fn artifact_type_filter_with_an_encoded_plus_matches() {
    // Arrange: a `+json` type, as OCI config media types are, percent-encoded by the client.
    let app = spawn_app().await;
    let image = push_known_image(&app, "ref/plus", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let kind = "application/vnd.example.sbom.v1+json";
    let (sbom, _, _) = push_referrer(&app, "ref/plus", kind, subject, None).await;
    push_referrer(&app, "ref/plus", SIG, subject, None).await;
    // Act
    let query = format!("?artifactType={}", kind.replace('+', "%2B"));
    let (index, filters) = referrers(&app, "ref/plus", &image.digest, &query).await;
    // Assert
    assert_eq!(filters, "artifactType");
    assert_eq!(digests_of(&index), vec![sbom]);
}

#[tokio::test]
async fn a_long_referrers_list_is_paginated_with_a_link_that_keeps_the_filter() {
    // Arrange: pages of at most 2 descriptors, and 5 referrers of a `+json` type.
    let app = spawn_app_with(&["BERTH_LIMITS__PAGE_MAX=2"]).await;
    let image = push_known_image(&app, "ref/pages", "v1", "subject").await;
    let subject = (image.digest.as_str(), image.manifest.len());
    let kind = "application/vnd.example.sbom.v1+json";
    let mut expected = Vec::new();
    for i in 0..5 {
        let note = format!("sbom {i}");
        let (d, _, r) = push_referrer(&app, "ref/pages", kind, subject, Some(&note)).await;
        assert_eq!(r.status(), 201);
        expected.push(d);
    }
    push_referrer(&app, "ref/pages", SIG, subject, None).await;
    // Act: follow the `Link` headers from the first page.
    let mut path = format!(
        "/v2/ref/pages/referrers/{}?artifactType={}",
        image.digest,
        kind.replace('+', "%2B")
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = app.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
        let link = header(&r, "link");
        let index: Value = r.json().await.unwrap();
        seen.extend(digests_of(&index));
        pages += 1;
        if link.is_empty() {
            break;
        }
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        path = link[1..link.find('>').unwrap()].to_string();
    }
    // Assert
    assert_eq!(pages, 3);
    assert_eq!(sorted(seen), sorted(expected));
}
