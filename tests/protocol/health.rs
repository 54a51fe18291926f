use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn liveness_and_readiness_answer_200_without_credentials() {
    let app = spawn_app().await;
    for path in [
        "/healthz",
        "/readyz",
        "/service/rest/v1/status",
        "/service/rest/v1/status/writable",
    ] {
        let r = app.req(Method::GET, path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn writable_status_is_503_when_the_blob_store_cannot_be_written() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let tmp = app.data_dir().join("blobstores/default/tmp");
    // Replace the store's tmp directory with a file: no write can succeed there, even as root.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();

    let writable = app
        .req(Method::GET, "/service/rest/v1/status/writable")
        .send()
        .await
        .unwrap();
    let readable = app
        .req(Method::GET, "/service/rest/v1/status")
        .send()
        .await
        .unwrap();

    assert_eq!(writable.status(), 503);
    assert_eq!(readable.status(), 200);
}
