//! A configuration that cannot work refuses to start, exiting with a message that says what
//! is wrong, rather than starting with a half-applied set of repositories.

use std::time::Duration;

use crate::common::*;
use crate::support::*;

/// Generous: a loaded CI machine can be slow to start a process.
const WITHIN: Duration = Duration::from_secs(60);

/// Starts Berth with `toml` expecting it to exit with an error; returns its stderr.
async fn refused(toml: &str) -> String {
    let config = ConfigFile::new(toml);
    start_failure(&config.args(), WITHIN).await
}

fn assert_mentions(log: &str, words: &[&str]) {
    for word in words {
        assert!(log.contains(word), "expected {word:?} in:\n{log}");
    }
}

#[tokio::test]
async fn a_group_member_that_does_not_exist_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted", "missing-hosted"]
"#,
    )
    .await;
    assert_mentions(&log, &["docker-group", "missing-hosted", "does not exist"]);
}

#[tokio::test]
async fn two_groups_containing_each_other_refuse_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "group-a"
type = "group"
members = ["group-b"]

[[repositories]]
name = "group-b"
type = "group"
members = ["group-a"]
"#,
    )
    .await;
    assert_mentions(&log, &["cycle", "group-a", "group-b"]);
}

#[tokio::test]
async fn a_writable_member_that_is_a_group_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "inner"
type = "group"
members = ["docker-hosted"]

[[repositories]]
name = "outer"
type = "group"
members = ["inner"]
writable_member = "inner"
"#,
    )
    .await;
    assert_mentions(&log, &["outer", "writable member inner", "hosted"]);
}

#[tokio::test]
async fn a_writable_member_outside_the_group_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "elsewhere"
type = "hosted"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted"]
writable_member = "elsewhere"
"#,
    )
    .await;
    assert_mentions(&log, &["elsewhere", "not a member"]);
}

#[tokio::test]
async fn a_repository_on_an_unknown_blob_store_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "nowhere"
"#,
    )
    .await;
    assert_mentions(
        &log,
        &["docker-hosted", "blob store nowhere", "does not exist"],
    );
}

#[tokio::test]
async fn two_repositories_on_one_port_refuse_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "first"
type = "hosted"
http_port = 47913

[[repositories]]
name = "second"
type = "hosted"
http_port = 47913
"#,
    )
    .await;
    assert_mentions(&log, &["first", "second", "47913"]);
}

#[tokio::test]
async fn an_invalid_repository_name_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "bad name!"
type = "hosted"
"#,
    )
    .await;
    assert_mentions(&log, &["bad name!", "must start with a letter"]);
}

#[tokio::test]
async fn an_upper_case_repository_name_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "Docker-Hosted"
type = "hosted"
"#,
    )
    .await;
    assert_mentions(&log, &["Docker-Hosted", "lower case"]);
}

#[tokio::test]
async fn an_unknown_key_in_a_repository_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
wirte_policy = "DENY"
"#,
    )
    .await;
    assert_mentions(&log, &["wirte_policy"]);
}

#[tokio::test]
async fn an_unknown_write_policy_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
write_policy = "SOMETIMES"
"#,
    )
    .await;
    assert_mentions(&log, &["SOMETIMES"]);
}

#[tokio::test]
async fn a_group_without_members_refuses_to_start() {
    let log = refused(
        r#"
[[repositories]]
name = "empty-group"
type = "group"
"#,
    )
    .await;
    assert_mentions(&log, &["empty-group", "at least one member"]);
}

#[tokio::test]
async fn a_blob_store_path_leaving_the_data_directory_refuses_to_start() {
    let log = refused(
        r#"
[[blob_stores]]
name = "escape"
path = "../outside"
"#,
    )
    .await;
    assert_mentions(&log, &["escape", ".."]);
}

#[tokio::test]
async fn a_refused_configuration_leaves_nothing_half_applied() {
    // Arrange: a valid configuration with content.
    let (mut app, config) = spawn_with_config(GROUP_CONFIG).await;
    let (digest, _) = app
        .push_image("repository/docker-hosted/app", "v1", "a")
        .await;
    app.kill9();
    // Act: an invalid one on the same data directory is refused...
    config.rewrite(&format!(
        "{GROUP_CONFIG}
[[repositories]]
name = \"broken-group\"
type = \"group\"
members = [\"missing\"]
"
    ));
    let log = start_failure_in(app.data.path(), &config.args(), WITHIN).await;
    assert_mentions(&log, &["missing", "does not exist"]);
    // ...and the valid one starts as before.
    config.rewrite(GROUP_CONFIG);
    app.restart().await;
    // Assert
    assert_eq!(
        digest_of(&app, "repository/docker-group/app", "v1").await,
        digest
    );
}
