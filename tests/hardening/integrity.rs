//! Integrity: descriptor sizes are checked against what is stored, a blob a manifest uses
//! cannot be deleted from under it, a blob file of the wrong length is never served as if
//! it were right, and readiness says so when a blob store is nearly full.

use std::io::Write;

use reqwest::Method;

use crate::common::*;

/// Pushes a config and a layer; returns ((config digest, size), (layer digest, size)).
async fn two_blobs(app: &TestApp, name: &str) -> ((String, usize), (String, usize)) {
    let config = b"{\"os\":\"linux\"}";
    let layer = b"the only layer of this image";
    let c = app.push_blob(name, config).await;
    let l = app.push_blob(name, layer).await;
    ((c, config.len()), (l, layer.len()))
}

#[tokio::test]
async fn a_descriptor_with_a_negative_size_is_refused_with_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let ((c, cs), (l, _)) = two_blobs(&app, "sizes/negative").await;
    let manifest = oci_manifest((&c, cs), &[]).replace(
        r#""layers":[]"#,
        &format!(r#""layers":[{{"mediaType":"{OCI_LAYER}","digest":"{l}","size":-1}}]"#),
    );
    // Act
    let r = app
        .put_manifest("sizes/negative", "v1", OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    let body = assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    assert!(body.to_string().contains("negative size"), "{body}");
    let get = app
        .req(Method::GET, "/v2/sizes/negative/manifests/v1")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404, "nothing was stored");
}

#[tokio::test]
async fn a_descriptor_whose_size_differs_from_the_stored_blob_is_refused_with_size_invalid() {
    // Arrange
    let app = spawn_app().await;
    let ((c, cs), (l, ls)) = two_blobs(&app, "sizes/mismatch").await;
    let wrong = oci_manifest((&c, cs), &[(&l, ls + 1)]);
    let right = oci_manifest((&c, cs), &[(&l, ls)]);
    // Act
    let refused = app
        .put_manifest("sizes/mismatch", "v1", OCI_MANIFEST, wrong.as_bytes())
        .await;
    // Assert
    let body = assert_oci_error(refused, 400, "SIZE_INVALID").await;
    assert_eq!(body["errors"][0]["detail"]["digest"], l.as_str(), "{body}");
    assert_eq!(body["errors"][0]["detail"]["stored"], ls, "{body}");
    let r = app
        .put_manifest("sizes/mismatch", "v1", OCI_MANIFEST, right.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "the right size is accepted");
}

#[tokio::test]
async fn an_index_declaring_a_child_of_another_size_is_refused_with_size_invalid() {
    // Arrange
    let app = spawn_app().await;
    let (child, bytes) = app.push_image("sizes/index", "amd64", "child").await;
    let index = |size: usize| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{child}","size":{size}}}]}}"#
        )
    };
    // Act
    let refused = app
        .put_manifest(
            "sizes/index",
            "multi",
            OCI_INDEX,
            index(bytes.len() + 7).as_bytes(),
        )
        .await;
    // Assert
    assert_oci_error(refused, 400, "SIZE_INVALID").await;
    let r = app
        .put_manifest(
            "sizes/index",
            "multi",
            OCI_INDEX,
            index(bytes.len()).as_bytes(),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn deleting_a_blob_a_tagged_manifest_uses_is_refused_naming_it_and_the_image_still_pulls() {
    // Arrange
    let app = spawn_app().await;
    let name = "inuse/app";
    let (manifest, bytes) = app.push_image(name, "1.0", "in use").await;
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = parsed["layers"][0]["digest"].as_str().unwrap().to_string();
    let path = format!("/v2/{name}/blobs/{layer}");
    // Act
    let refused = app.req(Method::DELETE, &path).send().await.unwrap();
    // Assert
    let body = assert_oci_error(refused, 405, "UNSUPPORTED").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&manifest) && message.contains("1.0"),
        "{body}"
    );
    let get = app.req(Method::GET, &path).send().await.unwrap();
    assert_eq!(get.status(), 200, "the layer still pulls");
    // Once no manifest uses it, the blob can go.
    let r = app
        .req(Method::DELETE, &format!("/v2/{name}/manifests/{manifest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = app.req(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn a_blob_file_of_the_wrong_length_is_not_served_and_a_push_repairs_it() {
    // Arrange: two blobs (one small, one past the streaming threshold) whose files grow.
    let app = spawn_app().await;
    let small = b"a small blob".to_vec();
    let large = vec![7u8; 200 * 1024];
    for content in [&small, &large] {
        let digest = app.push_blob("damaged/blob", content).await;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(app.blob_path(&digest))
            .unwrap();
        f.write_all(b"garbage appended behind Berth's back")
            .unwrap();
        let path = format!("/v2/damaged/blob/blobs/{digest}");
        // Act
        let head = app.req(Method::HEAD, &path).send().await.unwrap();
        let get = app.req(Method::GET, &path).send().await.unwrap();
        // Assert: HEAD and GET agree, and neither reports the file's length.
        assert_eq!(head.status(), 404, "HEAD of a damaged blob");
        assert_oci_error(get, 404, "BLOB_UNKNOWN").await;
        app.push_blob("damaged/blob", content).await;
        let head = app.req(Method::HEAD, &path).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), content.len().to_string());
        let get = app.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(get.bytes().await.unwrap().as_ref(), content.as_slice());
    }
    assert!(app.log().contains("blob file is damaged"));
}

#[tokio::test]
async fn readiness_is_503_with_the_reason_when_a_store_has_less_free_space_than_the_minimum() {
    // Arrange: a minimum no filesystem here meets (1 EiB).
    let app = spawn_app_with(&["BERTH_LIMITS__STORE_MIN_FREE_BYTES=1152921504606846976"]).await;
    for path in ["/readyz", "/service/rest/v1/status/writable"] {
        // Act
        let r = app.req(Method::GET, path).send().await.unwrap();
        // Assert
        assert_eq!(r.status(), 503, "{path}");
        let reason = r.text().await.unwrap();
        assert!(
            reason.contains("default") && reason.contains("nearly full"),
            "{path}: {reason}"
        );
    }
    let readable = app
        .req(Method::GET, "/service/rest/v1/status")
        .send()
        .await
        .unwrap();
    assert_eq!(readable.status(), 200, "reads are still served");
    let check = app
        .req(Method::GET, "/service/rest/v1/status/check")
        .send()
        .await
        .unwrap();
    let check: serde_json::Value = check.json().await.unwrap();
    assert_eq!(check["Blob Stores Ready"]["healthy"], false, "{check}");
}
