//! Privileges decided after the gate, inside the repository (issue 13 items 11 and 12, and
//! the security cases of tag parameters and automatic cross-mount): a mount must not reveal
//! a blob the caller cannot read, creating a tag needs `add`, moving one needs `edit`, and
//! a push with several tags is checked tag by tag, all or none.

use reqwest::{Method, Response};

use crate::common::*;
use crate::support::*;

const REPO: &str = "docker-hosted";

/// Uploads `bytes` to image `name` as `auth` (monolithic); returns (status, digest).
async fn upload(app: &TestApp, auth: &Auth, name: &str, bytes: &[u8]) -> (u16, String) {
    let digest = sha256(bytes);
    let r = call(
        app,
        auth,
        Method::POST,
        &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
    )
    .body(bytes.to_vec())
    .send()
    .await
    .unwrap();
    (r.status().as_u16(), digest)
}

/// An image manifest over config and layer blobs of `seed`, uploaded to `name` as `auth`;
/// returns (manifest, digest).
async fn image(app: &TestApp, auth: &Auth, name: &str, seed: &str) -> (String, String) {
    let config = format!("{{\"seed\":\"{seed}\"}}");
    let layer = format!("layer {seed}");
    let (s1, c) = upload(app, auth, name, config.as_bytes()).await;
    let (s2, l) = upload(app, auth, name, layer.as_bytes()).await;
    assert_eq!((s1, s2), (201, 201), "blob uploads as {auth:?}");
    let manifest = oci_manifest((&c, config.len()), &[(&l, layer.len())]);
    let digest = sha256(manifest.as_bytes());
    (manifest, digest)
}

async fn put(app: &TestApp, auth: &Auth, path: &str, manifest: &str) -> Response {
    call(app, auth, Method::PUT, path)
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.to_string())
        .send()
        .await
        .unwrap()
}

/// Where `name:tag` points, as the admin sees it (`None`: no such tag).
async fn points_to(app: &TestApp, name: &str, tag: &str) -> Option<String> {
    let r = call(
        app,
        &admin(),
        Method::HEAD,
        &format!("/v2/{name}/manifests/{tag}"),
    )
    .header("Accept", OCI_MANIFEST)
    .send()
    .await
    .unwrap();
    (r.status() == 200).then(|| header(&r, "docker-content-digest"))
}

async fn mount(app: &TestApp, auth: &Auth, target: &str, query: &str) -> Response {
    call(
        app,
        auth,
        Method::POST,
        &format!("/v2/{target}/blobs/uploads/?{query}"),
    )
    .send()
    .await
    .unwrap()
}

/// A server where admin pushed a blob into `secret/base`, with users `adder` (add only)
/// and `mounter` (add and read) on docker-hosted.
async fn mount_setup() -> (TestApp, String) {
    let app = spawn_secure(&[]).await;
    let (status, digest) = upload(&app, &admin(), "secret/base", b"a private layer").await;
    assert_eq!(status, 201);
    create_user_with(&app, "adder", "adder-pw-1", REPO, &["add"]).await;
    create_user_with(&app, "mounter", "mounter-pw-1", REPO, &["add", "read"]).await;
    (app, digest)
}

#[tokio::test]
async fn a_user_with_only_add_gets_an_upload_session_instead_of_a_mount_from_an_image_it_cannot_read(
) {
    // Arrange
    let (app, digest) = mount_setup().await;
    let adder = basic("adder", "adder-pw-1");
    // Act
    let r = mount(
        &app,
        &adder,
        "mine/app",
        &format!("mount={digest}&from=secret/base"),
    )
    .await;
    // Assert
    assert_eq!(r.status(), 202, "a 201 would tell adder the blob exists");
    assert!(header(&r, "location").starts_with("/v2/mine/app/blobs/uploads/"));
    let linked = status(
        &app,
        &admin(),
        Method::HEAD,
        &format!("/v2/mine/app/blobs/{digest}"),
    )
    .await;
    assert_eq!(linked, 404, "nothing was mounted");
}

#[tokio::test]
async fn a_user_who_may_read_the_source_mounts_from_it() {
    let (app, digest) = mount_setup().await;
    let mounter = basic("mounter", "mounter-pw-1");
    let r = mount(
        &app,
        &mounter,
        "mine/app",
        &format!("mount={digest}&from=secret/base"),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/mine/app/blobs/{digest}")
    );
}

#[tokio::test]
async fn an_automatic_cross_mount_never_reveals_a_blob_the_caller_cannot_read() {
    // Arrange
    let (app, digest) = mount_setup().await;
    // Act
    let adder = mount(
        &app,
        &basic("adder", "adder-pw-1"),
        "a/app",
        &format!("mount={digest}"),
    )
    .await;
    let mounter = mount(
        &app,
        &basic("mounter", "mounter-pw-1"),
        "m/app",
        &format!("mount={digest}"),
    )
    .await;
    // Assert
    assert_eq!(adder.status(), 202);
    assert_eq!(
        status(
            &app,
            &admin(),
            Method::HEAD,
            &format!("/v2/a/app/blobs/{digest}")
        )
        .await,
        404
    );
    assert_eq!(mounter.status(), 201);
    assert_eq!(
        status(
            &app,
            &admin(),
            Method::HEAD,
            &format!("/v2/m/app/blobs/{digest}")
        )
        .await,
        200
    );
}

#[tokio::test]
async fn a_user_with_only_add_creates_tags_but_cannot_move_one() {
    // Arrange: admin tagged app:1.
    let app = spawn_secure(&[]).await;
    let (first, first_digest) = image(&app, &admin(), "app", "first").await;
    assert_eq!(
        put(&app, &admin(), "/v2/app/manifests/1", &first)
            .await
            .status(),
        201
    );
    create_user_with(&app, "adder", "adder-pw-1", REPO, &["add"]).await;
    let adder = basic("adder", "adder-pw-1");
    let (second, second_digest) = image(&app, &adder, "app", "second").await;
    // Act
    let moved = put(&app, &adder, "/v2/app/manifests/1", &second).await;
    let created = put(&app, &adder, "/v2/app/manifests/2", &second).await;
    let same = put(&app, &adder, "/v2/app/manifests/1", &first).await;
    // Assert
    let body = assert_oci_error(moved, 403, "DENIED").await;
    assert!(body.to_string().contains("edit"), "{body}");
    assert_eq!(points_to(&app, "app", "1").await, Some(first_digest));
    assert_eq!(created.status(), 201);
    assert_eq!(points_to(&app, "app", "2").await, Some(second_digest));
    assert_eq!(
        same.status(),
        201,
        "re-pushing what a tag points at moves nothing"
    );
}

#[tokio::test]
async fn a_user_with_only_edit_moves_a_tag_but_cannot_create_one() {
    // Arrange: admin tagged app:1 and pushed a second manifest by digest.
    let app = spawn_secure(&[]).await;
    let (first, _) = image(&app, &admin(), "app", "first").await;
    assert_eq!(
        put(&app, &admin(), "/v2/app/manifests/1", &first)
            .await
            .status(),
        201
    );
    let (second, second_digest) = image(&app, &admin(), "app", "second").await;
    let by_digest = format!("/v2/app/manifests/{second_digest}");
    assert_eq!(put(&app, &admin(), &by_digest, &second).await.status(), 201);
    create_user_with(&app, "editor", "editor-pw-1", REPO, &["edit"]).await;
    let editor = basic("editor", "editor-pw-1");
    // Act
    let moved = put(&app, &editor, "/v2/app/manifests/1", &second).await;
    let created = put(&app, &editor, "/v2/app/manifests/new", &second).await;
    // Assert
    assert_eq!(moved.status(), 201);
    assert_eq!(points_to(&app, "app", "1").await, Some(second_digest));
    let body = assert_oci_error(created, 403, "DENIED").await;
    assert!(body.to_string().contains("add"), "{body}");
    assert_eq!(points_to(&app, "app", "new").await, None);
}

#[tokio::test]
async fn tag_parameters_are_checked_tag_by_tag_and_set_all_or_none() {
    // Arrange: app:1 exists; adder may add, pusher may add and edit.
    let app = spawn_secure(&[]).await;
    let (first, first_digest) = image(&app, &admin(), "app", "first").await;
    assert_eq!(
        put(&app, &admin(), "/v2/app/manifests/1", &first)
            .await
            .status(),
        201
    );
    create_user_with(&app, "adder", "adder-pw-1", REPO, &["add"]).await;
    create_user_with(&app, "pusher", "pusher-pw-1", REPO, &["add", "edit"]).await;
    let adder = basic("adder", "adder-pw-1");
    let (second, second_digest) = image(&app, &adder, "app", "second").await;
    let path = format!("/v2/app/manifests/{second_digest}?tag=fresh&tag=1");
    // Act
    let refused = put(&app, &adder, &path, &second).await;
    let fresh_after_refusal = points_to(&app, "app", "fresh").await;
    let accepted = put(&app, &basic("pusher", "pusher-pw-1"), &path, &second).await;
    // Assert
    assert_oci_error(refused, 403, "DENIED").await;
    assert_eq!(fresh_after_refusal, None, "no tag of a refused push is set");
    assert_eq!(accepted.status(), 201);
    let named: Vec<String> = accepted
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(named, ["fresh", "1"]);
    assert_eq!(
        points_to(&app, "app", "1").await,
        Some(second_digest.clone())
    );
    assert_eq!(points_to(&app, "app", "fresh").await, Some(second_digest));
    assert_ne!(Some(first_digest), points_to(&app, "app", "1").await);
}

#[tokio::test]
async fn the_oci_client_crate_mounts_only_from_what_its_user_may_read() {
    use oci_client::client::{ClientConfig, ClientProtocol};
    use oci_client::secrets::RegistryAuth;
    use oci_client::RegistryOperation;
    // Arrange: a real client, Basic realm.
    let (app, digest) = mount_setup().await;
    let target: oci_client::Reference = format!("{}/client/app:1", app.addr).parse().unwrap();
    let source: oci_client::Reference = format!("{}/secret/base:1", app.addr).parse().unwrap();
    let mut results = Vec::new();
    for (user, password) in [("adder", "adder-pw-1"), ("mounter", "mounter-pw-1")] {
        let client = oci_client::Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..Default::default()
        });
        let auth = RegistryAuth::Basic(user.into(), password.into());
        client
            .auth(&target, &auth, RegistryOperation::Push)
            .await
            .expect("login");
        // Act
        results.push(client.mount_blob(&target, &source, &digest).await.is_ok());
    }
    // Assert: the client wants 201; adder gets an upload session instead.
    assert_eq!(results, [false, true]);
    let path = format!("/v2/client/app/blobs/{digest}");
    assert_eq!(status(&app, &admin(), Method::HEAD, &path).await, 200);
}
