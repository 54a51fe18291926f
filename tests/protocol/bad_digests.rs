//! Malformed and unsupported digests — `sha256:xyz`, `md5:…`, upper-case hex, a missing
//! algorithm — in URL paths and in `?digest=`: 400 `DIGEST_INVALID`, nothing stored, and an
//! upload session survives a completion attempt with a bad digest.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Digests that must be refused, with what is wrong with them.
fn bad_digests() -> Vec<(String, &'static str)> {
    let good = sha256(b"x");
    let hex = &good["sha256:".len()..];
    vec![
        ("sha256:xyz".to_string(), "not hex, too short"),
        (
            "md5:d41d8cd98f00b204e9800998ecf8427e".to_string(),
            "unsupported algorithm",
        ),
        (format!("sha256:{}", hex.to_uppercase()), "upper-case hex"),
        (format!("sha256:{}", &hex[1..]), "63 hex digits"),
        (format!("sha256:{hex}0"), "65 hex digits"),
        (format!("SHA256:{hex}"), "upper-case algorithm"),
        (format!("sha256-{hex}"), "no colon"),
    ]
}

#[tokio::test]
async fn malformed_digests_in_blob_urls_return_400_digest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "dig/blob", "v1", "kept").await;
    for (digest, why) in bad_digests() {
        for method in [Method::GET, Method::DELETE] {
            // Act
            let r = app
                .req(method.clone(), &format!("/v2/dig/blob/blobs/{digest}"))
                .send()
                .await
                .unwrap();
            // Assert
            assert_eq!(r.status(), 400, "{method} {why}");
            assert_oci_error(r, 400, "DIGEST_INVALID").await;
        }
        let head = format!("/v2/dig/blob/blobs/{digest}");
        assert_eq!(head_status(&app, &head).await, 400, "HEAD {why}");
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn malformed_digests_in_manifest_urls_are_refused_with_400() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "dig/manifest", "v1", "kept").await;
    for (digest, why) in bad_digests() {
        if !digest.contains(':') {
            continue; // without a colon it is a (valid) tag
        }
        let path = format!("/v2/dig/manifest/manifests/{digest}");
        // Act
        let get = app.req(Method::GET, &path).send().await.unwrap();
        let put = app
            .put_manifest("dig/manifest", &digest, OCI_MANIFEST, &image.manifest)
            .await;
        let delete = app.req(Method::DELETE, &path).send().await.unwrap();
        // Assert
        assert_eq!(get.status(), 400, "GET {why}");
        assert_oci_error(get, 400, "DIGEST_INVALID").await;
        assert_oci_error(put, 400, "DIGEST_INVALID").await;
        assert_oci_error(delete, 400, "DIGEST_INVALID").await;
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn a_reference_with_a_colon_but_no_valid_digest_is_refused_with_an_oci_error() {
    // Arrange: "totallywrong" after a colon is what the conformance suite sends.
    let app = spawn_app().await;
    push_known_image(&app, "dig/ref", "v1", "kept").await;
    // Act
    let r = app
        .req(Method::GET, "/v2/dig/ref/manifests/sha256:totallywrong")
        .header("Content-Type", OCI_MANIFEST)
        .body("blablabla")
        .send()
        .await
        .unwrap();
    // Assert: 400 with an OCI error, as the suite's "error codes" spec accepts.
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn malformed_digests_in_the_referrers_url_return_400_digest_invalid() {
    // Arrange
    let app = spawn_app().await;
    for (digest, why) in bad_digests() {
        // Act
        let r = app
            .req(Method::GET, &format!("/v2/dig/refs/referrers/{digest}"))
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status(), 400, "{why}");
        assert_oci_error(r, 400, "DIGEST_INVALID").await;
    }
}

#[tokio::test]
async fn malformed_digest_in_a_single_post_upload_is_refused_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    for (digest, why) in bad_digests() {
        // Act
        let r = app
            .req(
                Method::POST,
                &format!("/v2/dig/post/blobs/uploads/?digest={digest}"),
            )
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status(), 400, "{why}");
        assert_oci_error(r, 400, "DIGEST_INVALID").await;
    }
    let stored = format!("/v2/dig/post/blobs/{}", sha256(b"x"));
    assert_eq!(head_status(&app, &stored).await, 404);
}

#[tokio::test]
async fn malformed_digest_on_the_completing_put_keeps_the_session_usable() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("dig/put").await;
    let r = patch_chunk(&app, &location, b"x", None).await;
    assert_eq!(r.status(), 202);
    for (digest, why) in bad_digests() {
        // Act
        let r = at(&app, Method::PUT, &with_digest(&location, &digest))
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status(), 400, "{why}");
        assert_oci_error(r, 400, "DIGEST_INVALID").await;
    }
    let status = upload_status(&app, &location).await;
    assert_eq!(header(&status, "range"), "0-0");
    let good = sha256(b"x");
    let r = at(&app, Method::PUT, &with_digest(&location, &good))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn completing_put_without_a_digest_is_refused_and_keeps_the_session() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("dig/none").await;
    // Act
    let r = at(&app, Method::PUT, &location)
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    assert_eq!(upload_status(&app, &location).await.status(), 204);
}

#[tokio::test]
async fn a_sha512_digest_is_supported_for_blobs() {
    // Arrange
    let app = spawn_app().await;
    let bytes = b"sha512 content";
    let digest = format!(
        "sha512:{}",
        hex::encode(<sha2::Sha512 as sha2::Digest>::digest(bytes))
    );
    let location = app.start_upload("dig/sha512").await;
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 201);
    let (status, body) = get_bytes(&app, &format!("/v2/dig/sha512/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, &bytes[..]));
}
