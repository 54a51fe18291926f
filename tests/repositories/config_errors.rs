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

/// One named test per case, so a failure names the configuration that was not refused:
/// `name: toml => [words the refusal must mention];`.
macro_rules! refuses_to_start {
    ($($name:ident: $toml:expr => [$($word:expr),+ $(,)?];)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                assert_mentions(&refused($toml).await, &[$($word),+]);
            }
        )+
    };
}

refuses_to_start! {
    a_group_member_that_does_not_exist_refuses_to_start: r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "docker-group"
type = "group"
members = ["docker-hosted", "missing-hosted"]
"#
        => ["docker-group", "missing-hosted", "does not exist"];
    two_groups_containing_each_other_refuse_to_start: r#"
[[repositories]]
name = "group-a"
type = "group"
members = ["group-b"]

[[repositories]]
name = "group-b"
type = "group"
members = ["group-a"]
"#
        => ["cycle", "group-a", "group-b"];
    a_writable_member_that_is_a_group_refuses_to_start: r#"
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
"#
        => ["outer", "writable member inner", "hosted"];
    a_writable_member_outside_the_group_refuses_to_start: r#"
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
"#
        => ["elsewhere", "not a member"];
    a_repository_on_an_unknown_blob_store_refuses_to_start: r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "nowhere"
"#
        => ["docker-hosted", "blob store nowhere", "does not exist"];
    two_repositories_on_one_port_refuse_to_start: r#"
[[repositories]]
name = "first"
type = "hosted"
http_port = 47913

[[repositories]]
name = "second"
type = "hosted"
http_port = 47913
"#
        => ["first", "second", "47913"];
    an_invalid_repository_name_refuses_to_start: r#"
[[repositories]]
name = "bad name!"
type = "hosted"
"#
        => ["bad name!", "must start with a letter"];
    an_upper_case_repository_name_refuses_to_start: r#"
[[repositories]]
name = "Docker-Hosted"
type = "hosted"
"#
        => ["Docker-Hosted", "lower case"];
    an_unknown_key_in_a_repository_refuses_to_start: r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
wirte_policy = "DENY"
"#
        => ["wirte_policy"];
    an_unknown_write_policy_refuses_to_start: r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
write_policy = "SOMETIMES"
"#
        => ["SOMETIMES"];
    a_group_without_members_refuses_to_start: r#"
[[repositories]]
name = "empty-group"
type = "group"
"#
        => ["empty-group", "at least one member"];
    a_blob_store_path_leaving_the_data_directory_refuses_to_start: r#"
[[blob_stores]]
name = "escape"
path = "../outside"
"#
        => ["escape", ".."];
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
