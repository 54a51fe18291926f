//! The seeds' whole set-up done in a real browser, then a real `docker login`/`push` with
//! the user created there, and the pushed image seen in Browse with its layers and pull
//! command. Every page is checked for console errors and CSP violations.

use crate::browser::*;
use crate::common::docker::*;
use crate::common::*;

/// Opens a repository form, fills the name, picks the blob store and the port.
async fn new_repository(b: &Browser, base: &str, kind: &str, name: &str, port: Option<u16>) {
    b.goto(&format!("{base}/ui/admin/repositories/form?type={kind}"))
        .await;
    b.fill("#repo-name", name).await;
    b.click("#repo-blob-store option[value='seed-store']").await;
    if let Some(port) = port {
        b.fill("#repo-http-port", &port.to_string()).await;
    }
}

async fn saved(b: &Browser) {
    let done = b.text("#done").await;
    assert!(done.contains("saved") || done.contains("created"), "{done}");
}

#[tokio::test]
async fn the_seeds_set_up_is_done_in_the_browser_then_docker_pushes_and_browse_shows_the_layers() {
    if !browser_present() || !docker_present() {
        return;
    }
    // Arrange: security on, a generated initial admin password.
    let app = spawn_app_with(&["BERTH_SECURITY__ENABLED=true"]).await;
    let base = app.base.clone();
    let password_file = app.data_dir().join("admin.password");
    let initial = std::fs::read_to_string(&password_file).unwrap();
    let mut b = Browser::start().await;

    // Sign in with the initial password → forced change.
    b.goto(&format!("{base}/")).await;
    assert_eq!(
        b.path().await,
        "/ui/login",
        "anonymous sees nothing: sign in"
    );
    b.screenshots("sign-in").await;
    b.fill("#username", "admin").await;
    b.fill("#password", initial.trim()).await;
    b.navigate_by("#sign-in").await;
    assert!(b.text("#forced-change").await.contains("initial password"));
    b.goto(&format!("{base}/ui/admin")).await;
    assert_eq!(
        b.path().await,
        "/ui/password",
        "nothing else before the change"
    );
    b.fill("#new-password", "Admin-Changed-Pw-1").await;
    b.fill("#confirm-password", "Admin-Changed-Pw-1").await;
    b.navigate_by("#change-password").await;
    b.find("#repositories").await;
    assert!(!password_file.exists(), "the initial password file is gone");

    // Blob store.
    b.goto(&format!("{base}/ui/admin/blobstores")).await;
    b.fill("#blob-store-name", "seed-store").await;
    b.navigate_by("#create-blob-store").await;
    saved(&b).await;

    // Hosted on a connector port, a proxy, a group over both.
    let hosted_port = free_port();
    new_repository(&b, &base, "hosted", "seed-hosted", Some(hosted_port)).await;
    b.screenshots("repository-form").await;
    b.navigate_by("#save-repository").await;
    saved(&b).await;
    new_repository(&b, &base, "proxy", "seed-proxy", None).await;
    b.fill("#repo-remote-url", "http://127.0.0.1:9").await;
    b.navigate_by("#save-repository").await;
    saved(&b).await;
    let group_port = free_port();
    new_repository(&b, &base, "group", "seed-group", Some(group_port)).await;
    b.fill("#repo-members", "seed-hosted, seed-proxy").await;
    b.click("#repo-writable-member option[value='seed-hosted']")
        .await;
    b.tick("#repo-anonymous-pull").await;
    b.navigate_by("#save-repository").await;
    saved(&b).await;
    let listed = b.text("#admin-repositories-table").await;
    for name in ["seed-hosted", "seed-proxy", "seed-group"] {
        assert!(listed.contains(name), "{listed}");
    }

    // A wrong form is refused with the API's message, nothing created.
    new_repository(&b, &base, "group", "seed-bad", None).await;
    b.fill("#repo-members", "no-such-repo").await;
    b.navigate_by("#save-repository").await;
    let errors = b.text("#errors").await;
    assert!(
        errors.contains("group.memberNames: repository no-such-repo does not exist"),
        "{errors}"
    );

    // Realm, role from docker privileges, user, anonymous pull.
    b.goto(&format!("{base}/ui/admin/security")).await;
    b.tick("#realm-DockerToken").await;
    b.navigate_by("#save-realms").await;
    saved(&b).await;
    b.fill("#role-id", "seed-pusher").await;
    b.tick("input[name=privilege][value='nx-repository-view-docker-seed-hosted-*']")
        .await;
    b.tick("input[name=privilege][value='nx-repository-view-docker-seed-group-*']")
        .await;
    b.navigate_by("#create-role").await;
    saved(&b).await;
    b.fill("#user-id", "seed-ci").await;
    b.fill("#user-first", "Seed").await;
    b.fill("#user-last", "CI").await;
    b.fill("#user-email", "ci@example.org").await;
    b.fill("#user-password", "Seed-Ci-Pw-1").await;
    b.tick("#user-role-seed-pusher").await;
    b.navigate_by("#create-user").await;
    saved(&b).await;
    b.tick("#anonymous-enabled").await;
    b.navigate_by("#save-anonymous").await;
    saved(&b).await;
    // The refused form above is a 400 page, which the browser logs; nothing else may be.
    let refused = "/ui/admin/repositories/form?type=group - Failed to load resource: \
                   the server responded with a status of 400";
    let errors: Vec<String> = b
        .console_errors()
        .await
        .into_iter()
        .filter(|m| !m.contains(refused))
        .collect();
    assert!(
        errors.is_empty(),
        "console errors while setting up: {errors:#?}"
    );

    // Act: docker login and push as the user created in the browser.
    let config = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{hosted_port}");
    let unique = format!("ui-{}-{}", hosted_port, std::process::id());
    let build = format!("berth-ui-build-{unique}:latest");
    let pushed_ref = format!("{host}/seed/{unique}:1");
    let mut images = LocalImages(Vec::new());
    images.add(&build);
    images.add(&pushed_ref);
    let context = tempfile::tempdir().unwrap();
    let files = [
        ("a.txt", format!("a {unique}\n").into_bytes()),
        ("b.txt", format!("b {unique}\n").into_bytes()),
    ];
    build_scratch_files(context.path(), &build, &files, "");
    docker_in_ok(config.path(), &["tag", &build, &pushed_ref]);
    assert!(output_ok(
        login(config.path(), &host, "seed-ci", "Seed-Ci-Pw-1"),
        "docker login"
    )
    .contains("Login Succeeded"));
    let pushed = docker_in_ok(config.path(), &["push", &pushed_ref]);
    let digest = pushed
        .split("digest: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("push prints the digest")
        .to_string();

    // Assert: Browse shows it, with its two layers and the pull commands.
    b.goto(&format!("{base}/ui/")).await;
    b.screenshots("browse").await;
    b.click("#repositories a[href='/ui/browse/seed-hosted']")
        .await;
    let image = format!("seed/{unique}");
    assert!(b.text("#images").await.contains(&image));
    b.navigate_by("#images a").await;
    assert!(b.text("#tags").await.contains(&digest[..19]));
    b.navigate_by("#tags tbody a").await;
    assert_eq!(b.text("#manifest-digest").await, digest);
    let layers = b
        .client
        .find_all(fantoccini::Locator::Css("#layers tbody tr"))
        .await
        .unwrap();
    assert_eq!(layers.len(), 2, "two COPY layers");
    let pulls = b.text("#pull-commands").await;
    assert!(
        pulls.contains(&format!("docker pull 127.0.0.1:{hosted_port}/{image}:1")),
        "{pulls}"
    );
    assert!(
        pulls.contains(&format!("/repository/seed-hosted/{image}:1")),
        "{pulls}"
    );
    b.screenshots("image-detail").await;
    b.goto(&format!("{base}/ui/usage")).await;
    b.find("#hourly-chart").await;
    b.screenshots("usage").await;
    let errors = b.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors while browsing: {errors:#?}"
    );

    // The pushed image pulls anonymously through the group (anonymous pull allowed there).
    let anonymous = tempfile::tempdir().unwrap();
    docker_in_ok(anonymous.path(), &["rmi", &pushed_ref]);
    let through_group = format!("127.0.0.1:{group_port}/{image}:1");
    images.add(&through_group);
    docker_in_ok(anonymous.path(), &["pull", &through_group]);
    b.finish().await;
}
