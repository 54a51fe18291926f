//! TODO

use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn api_version_check_returns_200_with_the_distribution_header() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");
}
