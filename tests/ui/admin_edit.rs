//! Editing and deleting in the administration pages, in a real browser: users, roles,
//! blob-store quotas, cleanup policies with their preview; and over raw HTTP, a non-admin
//! refused with 403 on every one of those posts.

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::activity::*;
use crate::browser::*;
use crate::common::*;
use crate::session::*;

async fn admin_get(app: &TestApp, path: &str) -> Value {
    // A new connection: the browser steps before may outlast the server's keep-alive.
    let r = reqwest::Client::new()
        .get(app.url(path))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}");
    r.json().await.unwrap()
}

/// Clicks a submit button of a `data-confirm` form and accepts the browser's prompt.
async fn confirm_submit(b: &Browser, css: &str) {
    b.click(css).await;
    b.client
        .accept_alert()
        .await
        .expect("a confirmation prompt");
}

#[tokio::test]
async fn an_admin_edits_and_deletes_users_and_roles_and_edits_quotas_in_the_browser() {
    if !browser_present() {
        return;
    }
    // Arrange: security on; a role and a user made over the API.
    let app = spawn_secure().await;
    let security = "/service/rest/v1/security";
    admin_json(
        &app,
        Method::POST,
        &format!("{security}/roles"),
        json!({"id": "readers", "name": "readers", "roles": [],
               "privileges": ["nx-repository-view-docker-docker-hosted-read"]}),
    )
    .await;
    admin_json(
        &app,
        Method::POST,
        &format!("{security}/users"),
        json!({"userId": "dana", "firstName": "Dana", "lastName": "Old",
               "emailAddress": "dana@example.org", "password": "Dana-Pw-123",
               "status": "active", "roles": ["readers"]}),
    )
    .await;
    let mut b = Browser::start().await;
    browser_sign_in(&b, &app, "admin", ADMIN_PW).await;

    // Act + Assert: edit the user (name, status, roles).
    b.goto(&app.url("/ui/admin/security")).await;
    b.navigate_by("#edit-user-dana").await;
    b.fill("#edit-user-last", "New").await;
    b.click("#edit-user-status option[value='locked']").await;
    b.tick("#edit-user-role-nx-admin").await;
    b.navigate_by("#save-user").await;
    wait_text(&b, "#done", "User saved").await;
    let users = admin_get(&app, &format!("{security}/users?userId=dana")).await;
    assert_eq!(users[0]["lastName"], "New");
    assert_eq!(users[0]["status"], "locked");
    assert_eq!(users[0]["roles"], json!(["nx-admin", "readers"]));

    // Edit the role: add a privilege, keep the one it had.
    b.goto(&app.url("/ui/admin/security?role=readers")).await;
    b.tick("#role-edit-form input[name=privilege][value='nx-repository-view-docker-docker-hosted-browse']")
        .await;
    b.navigate_by("#save-role").await;
    wait_text(&b, "#done", "Role saved").await;
    let role = admin_get(&app, &format!("{security}/roles/readers")).await;
    let mut privileges: Vec<String> = serde_json::from_value(role["privileges"].clone()).unwrap();
    privileges.sort();
    assert_eq!(
        privileges,
        [
            "nx-repository-view-docker-docker-hosted-browse",
            "nx-repository-view-docker-docker-hosted-read"
        ]
    );

    // Delete the user, then the role (now unused).
    b.goto(&app.url("/ui/admin/security")).await;
    b.tick("#delete-user-confirm-dana").await;
    confirm_submit(&b, "#delete-user-dana").await;
    wait_text(&b, "#done", "User deleted").await;
    let users = admin_get(&app, &format!("{security}/users?userId=dana")).await;
    assert_eq!(users, json!([]));
    assert!(!b.exists("#user-row-dana").await);
    b.tick("#delete-role-confirm-readers").await;
    confirm_submit(&b, "#delete-role-readers").await;
    wait_text(&b, "#done", "Role deleted").await;
    let roles = admin_get(&app, &format!("{security}/roles")).await;
    assert!(!roles
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "readers"));

    // Blob-store quotas: set both; a refused change (blank soft, bad hard) changes nothing.
    b.goto(&app.url("/ui/admin/blobstores")).await;
    b.navigate_by("#edit-blob-store-default").await;
    b.fill("#edit-soft-quota", "5000000").await;
    b.fill("#edit-hard-quota", "9000000").await;
    b.navigate_by("#save-quotas").await;
    wait_text(&b, "#done", "Quotas saved").await;
    let store = admin_get(&app, "/service/rest/v1/blobstores/file/default").await;
    assert_eq!(store["softQuota"]["limit"], 5_000_000);
    assert_eq!(store["hardQuota"]["limit"], 9_000_000);
    b.goto(&app.url("/ui/admin/blobstores?name=default")).await;
    b.fill("#edit-soft-quota", "").await;
    b.fill("#edit-hard-quota", "-1").await;
    b.navigate_by("#save-quotas").await;
    let errors = b.text("#errors").await;
    assert!(errors.contains("hardQuota"), "{errors}");
    let store = admin_get(&app, "/service/rest/v1/blobstores/file/default").await;
    assert_eq!(store["hardQuota"]["limit"], 9_000_000, "refused: unchanged");
    let errors: Vec<String> = b
        .console_errors()
        .await
        .into_iter()
        .filter(|m| !m.contains("status of 400"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.finish().await;
}

#[tokio::test]
async fn a_cleanup_policy_preview_lists_what_it_would_delete_and_deletes_nothing() {
    if !browser_present() {
        return;
    }
    // Arrange: security off (administration open to loopback), tags to keep and to lose.
    let app = spawn_app().await;
    for tag in ["keep", "old-1", "old-2"] {
        app.push_image("shop/web", tag, tag).await;
    }
    let mut b = Browser::start().await;

    // Act: create a policy in the browser, then preview it on docker-hosted.
    b.goto(&app.url("/ui/admin/cleanup")).await;
    b.fill("#policy-name", "old-tags").await;
    b.fill("#policy-regex", "old-.*").await;
    b.navigate_by("#save-policy").await;
    wait_text(&b, "#done", "Cleanup policy saved").await;
    b.click("#preview-repository-old-tags option[value='docker-hosted']")
        .await;
    b.navigate_by("#preview-old-tags").await;

    // Assert: the two old tags, not the kept one; nothing deleted.
    assert!(b.text("#preview-count").await.contains("2 tags"));
    let listed: Vec<String> = {
        let mut out = Vec::new();
        for e in b
            .client
            .find_all(fantoccini::Locator::Css("#preview-tags .preview-tag"))
            .await
            .unwrap()
        {
            out.push(e.text().await.unwrap());
        }
        out
    };
    assert_eq!(listed, ["old-1", "old-2"]);
    let tags: Value = app
        .req(Method::GET, "/v2/shop/web/tags/list")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!(["keep", "old-1", "old-2"]));

    // Editing keeps the name; a bad regex is refused with the API's message.
    b.navigate_by("#edit-policy-old-tags").await;
    b.fill("#policy-regex", "old-(").await;
    b.navigate_by("#save-policy").await;
    let errors = b.text("#errors").await;
    assert!(
        errors.contains("criteriaAssetRegex: invalid regex"),
        "{errors}"
    );
    let errors: Vec<String> = b
        .console_errors()
        .await
        .into_iter()
        .filter(|m| !m.contains("status of 400"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.finish().await;
}

#[tokio::test]
async fn a_non_admin_gets_403_on_every_new_admin_form_post_and_nothing_changes() {
    // Arrange: security on, a user without admin rights, signed in through the UI.
    let app = spawn_secure().await;
    admin_json(
        &app,
        Method::POST,
        "/service/rest/v1/security/users",
        json!({"userId": "dev", "firstName": "D", "lastName": "V",
               "emailAddress": "dev@example.org", "password": "Dev-Pw-123",
               "status": "active", "roles": ["nx-anonymous"]}),
    )
    .await;
    let (_, session) = sign_in(&app, "dev", "Dev-Pw-123").await;
    let s = session.expect("dev signs in");
    let c = client();
    let page = c
        .get(app.url("/ui/admin/cleanup"))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);

    // Act: every new form, with the session's CSRF token and without.
    let posts: [(&str, &[(&str, &str)]); 7] = [
        (
            "/ui/admin/users/update",
            &[("id", "admin"), ("status", "locked"), ("role", "nx-admin")],
        ),
        (
            "/ui/admin/users/delete",
            &[("id", "admin"), ("confirm", "on")],
        ),
        (
            "/ui/admin/roles/update",
            &[("id", "nx-anonymous"), ("privilege", "nx-all")],
        ),
        (
            "/ui/admin/roles/delete",
            &[("id", "nx-anonymous"), ("confirm", "on")],
        ),
        (
            "/ui/admin/blobstores/update",
            &[("name", "default"), ("hard_quota", "1")],
        ),
        ("/ui/admin/cleanup", &[("name", "p"), ("keep_latest", "1")]),
        (
            "/ui/admin/cleanup/delete",
            &[("name", "p"), ("confirm", "on")],
        ),
    ];
    for csrf in [Some(s.csrf.as_str()), None] {
        for (path, fields) in &posts {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(token) = csrf {
                form.push(("csrf", token));
            }
            let r = c
                .post(app.url(path))
                .header(COOKIE, &s.cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            // Assert
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} csrf={csrf:?}");
        }
    }
    let admin = app
        .req(Method::GET, "/service/rest/v1/security/users?userId=admin")
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(admin[0]["status"], "active");
    let store: Value = app
        .req(Method::GET, "/service/rest/v1/blobstores/file/default")
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(store["hardQuota"].is_null() || store["hardQuota"]["limit"] != 1);
    let policies: Value = app
        .req(Method::GET, "/service/rest/v1/cleanup-policies")
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(policies, json!([]));
}
