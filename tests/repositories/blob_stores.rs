//! Named blob stores: where their files live, hard quotas (refuse new content, keep serving
//! reads) and one file per digest however many repositories of the store hold it.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn a_repository_on_a_named_store_writes_its_blobs_under_the_stores_directory() {
    // Arrange
    let (app, _config) = spawn_with_config(
        r#"
[[blob_stores]]
name = "fast"
path = "fast-disk"

[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "on-fast"
type = "hosted"
blob_store = "fast"
"#,
    )
    .await;
    let stores = app.data_dir().join("blobstores");
    // Act
    let image = app
        .push_blobs_of("repository/on-fast/app", Image::seeded("fast"))
        .await;
    let r = app.put_image("repository/on-fast/app", "v1", &image).await;
    let (default_digest, _) = app.push_image("elsewhere", "v1", "default").await;
    // Assert
    assert_eq!(r.status(), 201);
    for digest in [&image.layer().0, &image.config.0, &image.digest] {
        assert!(
            blob_file(&stores.join("fast-disk"), digest).is_file(),
            "{digest} is not in the fast store: {:?}",
            files_under(&stores)
        );
        assert!(
            !blob_file(&stores.join("default"), digest).exists(),
            "{digest} was written to the default store"
        );
    }
    assert!(blob_file(&stores.join("default"), &default_digest).is_file());
    assert!(!blob_file(&stores.join("fast-disk"), &default_digest).exists());
}

const QUOTA: &str = r#"
[[blob_stores]]
name = "small"
path = "small"
hard_quota_bytes = 100000

[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "small"
"#;

#[tokio::test]
async fn a_hard_quota_refuses_new_blobs_once_exceeded_while_pulls_keep_working() {
    // Arrange
    let (mut app, _config) = spawn_with_config(QUOTA).await;
    let first = vec![1u8; 60_000];
    let second = vec![2u8; 60_000];
    let third = vec![3u8; 1_000];
    let d1 = app.push_blob("app", &first).await;
    let config = app.push_blob("app", b"{}").await;
    // Under the quota before this one, over it after.
    let d2 = app.push_blob("app", &second).await;
    let manifest = oci_manifest((&config, 2), &[(&d1, first.len())]);
    // Act
    let monolithic = app
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={}", sha256(&third)),
        )
        .body(third.clone())
        .send()
        .await
        .unwrap();
    let session = app
        .req(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let put = app
        .put_manifest("app", "v1", OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    for r in [monolithic, session, put] {
        let body = assert_oci_error(r, 403, "DENIED").await;
        assert!(message(&body).contains("quota"), "{body}");
    }
    for (digest, bytes) in [(&d1, &first), (&d2, &second)] {
        let r = app
            .req(Method::GET, &format!("/v2/app/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().to_vec(), *bytes);
    }
    let r = app
        .req(Method::HEAD, &format!("/v2/app/blobs/{}", sha256(&third)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the refused blob must not exist");
    // The usage is remembered: still refused after a restart.
    app.restart().await;
    let r = app
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={}", sha256(&third)),
        )
        .body(third.clone())
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;
    let r = app
        .req(Method::GET, &format!("/v2/app/blobs/{d1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_hard_quota_does_not_refuse_pushes_to_repositories_on_other_stores() {
    // Arrange
    let config = format!(
        "{QUOTA}
[[repositories]]
name = \"roomy\"
type = \"hosted\"
"
    );
    let (app, _config) = spawn_with_config(&config).await;
    app.push_blob("app", &vec![7u8; 120_000]).await;
    let refused = app
        .req(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_oci_error(refused, 403, "DENIED").await;
    // Act
    let (digest, _) = app.push_image("repository/roomy/app", "v1", "roomy").await;
    // Assert
    assert_eq!(digest_of(&app, "repository/roomy/app", "v1").await, digest);
}

#[tokio::test]
async fn two_repositories_on_one_store_share_one_file_per_digest() {
    // Arrange
    let (app, _config) = spawn_with_config(
        r#"
[[blob_stores]]
name = "shared"
path = "shared"

[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "shared"

[[repositories]]
name = "second"
type = "hosted"
blob_store = "shared"
"#,
    )
    .await;
    let layer = vec![9u8; 10_000];
    // Act
    let d1 = app.push_blob("repository/docker-hosted/app", &layer).await;
    let d2 = app.push_blob("repository/second/app", &layer).await;
    // Assert
    assert_eq!(d1, d2);
    let root = app.data_dir().join("blobstores").join("shared");
    let hex = d1.strip_prefix("sha256:").unwrap();
    let copies: Vec<_> = files_under(&root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == hex))
        .collect();
    assert_eq!(copies, vec![blob_file(&root, &d1)], "exactly one file");
    // Each repository serves it, and unlinking it from one leaves the other's copy.
    let r = app
        .req(
            Method::DELETE,
            &format!("/v2/repository/docker-hosted/app/blobs/{d1}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let gone = status_of(
        &app,
        &format!("/v2/repository/docker-hosted/app/blobs/{d1}"),
    )
    .await;
    let kept = app
        .req(
            Method::GET,
            &format!("/v2/repository/second/app/blobs/{d1}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone, 404);
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.bytes().await.unwrap().to_vec(), layer);
}
