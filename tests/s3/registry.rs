//! Repositories on S3 blob stores, from outside: the Docker Engine pushes and pulls (through
//! Berth, and following `307`s to pre-signed URLs), ranged blob GETs, and an S3 outage that
//! is a `503` naming the store while a file-store repository keeps working.

use reqwest::{Method, StatusCode};

use crate::common::docker::{self, LocalImages};
use crate::common::garage::Garage;
use crate::common::{self, TestApp};

/// Berth with stores `s3` (streams through Berth) and `s3-redirect` (pre-signed redirects)
/// on `garage`, hosted repositories `on-s3` (the default repository) and `on-s3-redirect`
/// on them, and `docker-hosted` on the file store.
async fn berth_on(garage: &Garage) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"default_repository = "on-s3"
{}{}
[[repositories]]
name = "on-s3"
type = "hosted"
blob_store = "s3"

[[repositories]]
name = "on-s3-redirect"
type = "hosted"
blob_store = "s3-redirect"

[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "default"
"#,
        garage.store_toml("s3", false),
        garage.store_toml("s3-redirect", true)
    );
    let path = dir.path().join("berth.toml");
    std::fs::write(&path, config).unwrap();
    let app = common::spawn_app_with(&["--config", path.to_str().unwrap()]).await;
    (app, dir)
}

fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

#[tokio::test]
async fn docker_pushes_and_pulls_through_s3_stores_streamed_and_redirected() {
    if !docker::docker_present() {
        return;
    }
    let Some(garage) = Garage::start().await else {
        return;
    };
    let (app, _config) = berth_on(&garage).await;
    let context = tempfile::tempdir().unwrap();
    let mut images = LocalImages(Vec::new());
    let port = app.addr.rsplit(':').next().unwrap().to_string();
    for (reference, seed) in [
        (format!("127.0.0.1:{port}/s3app:1"), 11),
        (
            format!("127.0.0.1:{port}/repository/on-s3-redirect/s3app:1"),
            12,
        ),
    ] {
        let id =
            docker::build_scratch_image(context.path(), &images.add(&reference), seed, 3 << 20);
        docker::docker(&["push", &reference]);
        docker::docker(&["rmi", "-f", &reference]);
        docker::docker(&["pull", &reference]);
        assert_eq!(docker::image_id(&reference), id, "{reference} round trip");
    }
    // The redirected pull really went to S3: Berth answered 307 for its blobs.
    let manifest: serde_json::Value = app
        .req(
            Method::GET,
            "/v2/repository/on-s3-redirect/s3app/manifests/1",
        )
        .header("Accept", common::DOCKER_MANIFEST)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let layer = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow
        .get(app.url(&format!(
            "/v2/repository/on-s3-redirect/s3app/blobs/{layer}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = common::header(&r, "location");
    assert!(location.starts_with(&garage.endpoint), "{location}");
}

#[tokio::test]
async fn blob_ranges_are_served_streamed_and_after_a_redirect() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let (app, _config) = berth_on(&garage).await;
    let bytes = noise(300_000, 7);
    for repo in ["app", "repository/on-s3-redirect/app"] {
        let digest = app.push_blob(repo, &bytes).await;
        let url = format!("/v2/{repo}/blobs/{digest}");
        // The test client follows the 307 of the redirecting store, Range header and all.
        let whole = app.req(Method::GET, &url).send().await.unwrap();
        assert_eq!(whole.status(), 200, "{repo}");
        assert_eq!(whole.bytes().await.unwrap(), bytes, "{repo}");
        let part = app
            .req(Method::GET, &url)
            .header("Range", "bytes=1000-1999")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206, "{repo}");
        assert_eq!(part.bytes().await.unwrap(), bytes[1000..2000], "{repo}");
        let head = app.req(Method::HEAD, &url).send().await.unwrap();
        assert_eq!(common::header(&head, "content-length"), "300000", "{repo}");
    }
    // A range past the end of a streamed blob: 416, not an S3 error.
    let digest = common::sha256(&bytes);
    let r = app
        .req(Method::GET, &format!("/v2/app/blobs/{digest}"))
        .header("Range", "bytes=300000-300010")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
}

#[tokio::test]
async fn an_s3_outage_is_a_503_naming_the_store_while_the_file_store_works_then_recovers() {
    let Some(mut garage) = Garage::start().await else {
        return;
    };
    let (app, _config) = berth_on(&garage).await;
    let (manifest_digest, _) = app.push_image("app", "1", "before the outage").await;
    let blob = app.push_blob("app", b"on s3 before the outage").await;

    garage.stop();
    let r = app
        .req(Method::GET, &format!("/v2/app/blobs/{blob}"))
        .send()
        .await
        .unwrap();
    let body = common::assert_oci_error(r, 503, "UNAVAILABLE").await;
    let text = body.to_string();
    assert!(text.contains("blob store s3 is unavailable"), "{text}");
    assert!(!text.contains(&garage.secret_key), "{text}");
    let r = app
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={}", common::sha256(b"new")),
        )
        .body("new")
        .send()
        .await
        .unwrap();
    common::assert_oci_error(r, 503, "UNAVAILABLE").await;
    // The file store does not notice.
    let other = app
        .push_blob("repository/docker-hosted/app", b"on the file store")
        .await;
    let r = app
        .req(
            Method::GET,
            &format!("/v2/repository/docker-hosted/app/blobs/{other}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), &b"on the file store"[..]);

    garage.resume().await;
    let r = app
        .req(Method::GET, &format!("/v2/app/blobs/{blob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), &b"on s3 before the outage"[..]);
    let r = app
        .req(Method::GET, &format!("/v2/app/manifests/{manifest_digest}"))
        .header("Accept", common::OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.push_image("app", "2", "after the outage").await;
}

#[tokio::test]
async fn s3_stores_are_managed_through_the_nexus_api_and_the_secret_is_write_only() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let app = common::spawn_app().await;
    let body = serde_json::json!({
        "name": "made-by-api",
        "softQuota": null,
        "bucketConfiguration": {
            "bucket": { "region": garage.region, "name": garage.bucket, "prefix": "api", "expiration": 3 },
            "bucketSecurity": { "accessKeyId": garage.access_key, "secretAccessKey": garage.secret_key },
            "advancedBucketConnection": { "endpoint": garage.endpoint, "forcePathStyle": true }
        }
    });
    let r = app
        .req(Method::POST, "/service/rest/v1/blobstores/s3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let got: serde_json::Value = app
        .req(Method::GET, "/service/rest/v1/blobstores/s3/made-by-api")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["type"], "S3");
    assert_eq!(got["bucketConfiguration"]["bucket"]["prefix"], "api");
    assert_eq!(
        got["bucketConfiguration"]["bucketSecurity"]["accessKeyId"],
        garage.access_key
    );
    assert!(
        !got.to_string().contains(&garage.secret_key),
        "GET never returns the secret: {got}"
    );
    // A file-store route does not see it, and the S3 route does not see file stores.
    let r = app
        .req(Method::GET, "/service/rest/v1/blobstores/file/made-by-api")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .req(Method::GET, "/service/rest/v1/blobstores/s3/default")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // An update that leaves the secret out keeps it and may change the quota only.
    let mut update = body.clone();
    update["bucketConfiguration"]["bucketSecurity"]
        .as_object_mut()
        .unwrap()
        .remove("secretAccessKey");
    update["softQuota"] = serde_json::json!({"type": "spaceUsedQuota", "limit": 1_000_000});
    let r = app
        .req(Method::PUT, "/service/rest/v1/blobstores/s3/made-by-api")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    update["bucketConfiguration"]["bucket"]["prefix"] = "elsewhere".into();
    let r = app
        .req(Method::PUT, "/service/rest/v1/blobstores/s3/made-by-api")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Missing bucket: a Nexus-shaped 400 naming the field.
    let r = app
        .req(Method::POST, "/service/rest/v1/blobstores/s3")
        .json(&serde_json::json!({"name": "nobucket", "bucketConfiguration": {"bucket": {"region": "x"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("bucket"));

    // A repository on the new store works, and the store survives a restart (secret sealed
    // in the database, opened again).
    let r = app
        .req(Method::POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&serde_json::json!({
            "name": "api-s3", "online": true,
            "storage": {"blobStoreName": "made-by-api", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
            "docker": {"v1Enabled": false, "forceBasicAuth": false}
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let blob = app
        .push_blob("repository/api-s3/x", b"via the api store")
        .await;
    for file in ["berth.db", "berth.db-wal"] {
        let db = std::fs::read(app.data_dir().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&db).contains(&garage.secret_key),
            "the secret is sealed at rest ({file})"
        );
    }
    let mut app = app;
    app.restart().await;
    let r = app
        .req(
            Method::GET,
            &format!("/v2/repository/api-s3/x/blobs/{blob}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_blob_above_the_server_side_copy_limit_is_published_by_a_streamed_copy() {
    // Arrange: a store whose copy limit (1 MiB) is below a multipart blob (two 8 MiB parts
    // and a tail), so the upload is published by streaming, as a > 5 GiB blob is on AWS.
    let Some(garage) = Garage::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "default_repository = \"big\"\n{}copy_max_bytes = 1048576\n\n[[repositories]]\nname = \"big\"\ntype = \"hosted\"\nblob_store = \"s3\"\n",
        garage.store_toml("s3", false)
    );
    let path = dir.path().join("berth.toml");
    std::fs::write(&path, config).unwrap();
    let app = common::spawn_app_with(&["--config", path.to_str().unwrap()]).await;
    let bytes = noise(17 * 1024 * 1024 + 12_345, 7);

    // Act: a chunked upload of 4 MiB chunks.
    let digest = app.push_blob_chunked("big/app", &bytes, 4 << 20).await;

    // Assert: every byte reads back, whole and by range, and the size is right.
    let got = app
        .req(Method::GET, &format!("/v2/big/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let range = app
        .req(Method::GET, &format!("/v2/big/app/blobs/{digest}"))
        .header("Range", "bytes=16777200-16777300")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        range.bytes().await.unwrap().as_ref(),
        &bytes[16_777_200..=16_777_300]
    );
    let head = app
        .req(Method::HEAD, &format!("/v2/big/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::header(&head, "content-length"),
        bytes.len().to_string()
    );
    let log = app.log();
    assert!(
        log.contains("by a streamed copy"),
        "no streamed copy:\n{log}"
    );
}
