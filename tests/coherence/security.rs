//! Security changes on node A take effect on node B (security on, Basic auth): a user
//! created on A logs in on B; after a password change on A, B refuses the old password
//! (which B had remembered as verified) and accepts the new one; a user disabled, then
//! deleted, on A is refused by B.

use reqwest::Method;
use serde_json::json;

use crate::common::cluster::{eventually, Cluster};
use crate::common::TestApp;
use crate::{report, WITHIN};

const ADMIN_PW: &str = "Initial-Admin-Pw-1";
const SECURITY: &str = "/service/rest/v1/security";

const SECURE: &str =
    "[security]\nenabled = true\ninitial_admin_password = \"Initial-Admin-Pw-1\"\n";

/// Status of `GET /v2/` on `app` with Basic credentials.
async fn v2_status(app: &TestApp, user: &str, password: &str) -> u16 {
    app.req(Method::GET, "/v2/")
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An admin API call on `app` with a JSON body; the status.
async fn admin_json(app: &TestApp, method: Method, path: &str, body: serde_json::Value) -> u16 {
    let r = app
        .req(method, path)
        .basic_auth("admin", Some(ADMIN_PW))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status < 300, "{path}: {status} {}", r.text().await.unwrap());
    status
}

fn user(status: &str, password: Option<&str>) -> serde_json::Value {
    let mut body = json!({"userId": "ci", "firstName": "C", "lastName": "I",
        "emailAddress": "ci@example.org", "source": "default", "status": status,
        "roles": ["nx-admin"]});
    if let Some(password) = password {
        body["password"] = json!(password);
    }
    body
}

/// Waits until `user:password` gets `want` on B; returns how long that took.
async fn until_b_answers(
    b: &TestApp,
    what: &str,
    password: &str,
    want: u16,
) -> std::time::Duration {
    let (_, took) = eventually(what, WITHIN, || async {
        (v2_status(b, "ci", password).await == want).then_some(())
    })
    .await;
    report(what, took);
    took
}

#[tokio::test]
async fn users_created_changed_disabled_and_deleted_on_one_node_are_seen_by_the_other() {
    // Arrange
    let Some(cluster) = Cluster::start(2, SECURE).await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    assert_eq!(v2_status(b, "ci", "Ci-Pw-1").await, 401);

    // Created on A: B lets the user in (and remembers the verified password).
    admin_json(
        a,
        Method::POST,
        &format!("{SECURITY}/users"),
        user("active", Some("Ci-Pw-1")),
    )
    .await;
    until_b_answers(b, "user created on A, accepted by B", "Ci-Pw-1", 200).await;
    assert_eq!(v2_status(b, "ci", "Ci-Pw-1").await, 200);

    // Password changed on A: B refuses the old one, accepts the new one.
    let r = a
        .req(Method::PUT, &format!("{SECURITY}/users/ci/change-password"))
        .basic_auth("admin", Some(ADMIN_PW))
        .header("Content-Type", "text/plain")
        .body("Ci-Pw-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    until_b_answers(
        b,
        "password changed on A, old one refused by B",
        "Ci-Pw-1",
        401,
    )
    .await;
    assert_eq!(v2_status(b, "ci", "Ci-Pw-2").await, 200);

    // Disabled on A: B refuses the (remembered) password.
    admin_json(
        a,
        Method::PUT,
        &format!("{SECURITY}/users/ci"),
        user("disabled", None),
    )
    .await;
    until_b_answers(b, "user disabled on A, refused by B", "Ci-Pw-2", 401).await;

    // Enabled again, then deleted on A: B refuses.
    admin_json(
        a,
        Method::PUT,
        &format!("{SECURITY}/users/ci"),
        user("active", None),
    )
    .await;
    until_b_answers(b, "user enabled again on A, accepted by B", "Ci-Pw-2", 200).await;
    let r = a
        .req(Method::DELETE, &format!("{SECURITY}/users/ci"))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    until_b_answers(b, "user deleted on A, refused by B", "Ci-Pw-2", 401).await;
}
