//! The configuration half: blob stores, repositories of every kind, cleanup policies,
//! privileges, roles, users, realms and anonymous access land on the target; re-runs are
//! idempotent and keep an operator's changes unless `--overwrite`; the dry run changes
//! nothing; bad source credentials fail clearly.

use std::os::unix::fs::PermissionsExt;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

/// A secured source set up like the seeds, with `team/app:1` and `:2` (one shared layer).
async fn seeded_source() -> (TestApp, Seed) {
    let source = spawn_secured().await;
    let seed = configure_like_seed(&source).await;
    let shared = b"shared base layer".repeat(1000);
    push_raw_image(
        &source,
        true,
        "docker-hosted",
        "team/app",
        "1",
        &[shared.clone(), b"one".to_vec()],
    )
    .await;
    push_raw_image(
        &source,
        true,
        "docker-hosted",
        "team/app",
        "2",
        &[shared, b"two".to_vec()],
    )
    .await;
    (source, seed)
}

fn outcome(report: &Value, kind: &str, name: &str) -> String {
    item(report, kind, name)["outcome"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_seed_like_nexus_set_up_is_recreated_on_the_target_with_passwords_in_a_0600_file() {
    let (source, seed) = seeded_source().await;
    let target = spawn_secured().await;
    let dir = tempfile::tempdir().unwrap();

    let (success, report, stderr) = run_import(&source, &target, dir.path(), &[]);

    assert!(success, "{report:#}\n{stderr}");
    assert_eq!(outcome(&report, "blobStore", "docker"), "created");
    assert_eq!(
        outcome(&report, "cleanupPolicy", "docker-weekly"),
        "created"
    );
    // Berth's untouched zero-config docker-hosted is reshaped, not kept.
    assert_eq!(outcome(&report, "repository", "docker-hosted"), "updated");
    assert_eq!(outcome(&report, "repository", "docker-proxy"), "created");
    assert_eq!(outcome(&report, "repository", "docker-group"), "created");
    assert_eq!(outcome(&report, "privilege", "group-pull"), "created");
    assert_eq!(outcome(&report, "role", "docker-push"), "created");
    assert_eq!(outcome(&report, "user", "ci"), "created");
    assert_eq!(outcome(&report, "user", "admin"), "skipped");
    assert_eq!(outcome(&report, "realms", "active"), "updated");
    assert_eq!(outcome(&report, "anonymous", "settings"), "updated");
    // Source and target share this host, so the source's connector ports are taken.
    let notes = item(&report, "repository", "docker-hosted")["notes"].to_string();
    assert!(
        notes.contains(&format!("connector port {} is taken", seed.hosted_port)),
        "{notes}"
    );

    let (_, hosted) = rest(
        &target,
        Method::GET,
        "/v1/repositories/docker/hosted/docker-hosted",
        None,
    )
    .await;
    assert_eq!(hosted["storage"]["blobStoreName"], "docker");
    assert_eq!(hosted["docker"]["forceBasicAuth"], false);
    assert_eq!(hosted["cleanup"]["policyNames"], json!(["docker-weekly"]));
    let (_, proxy) = rest(
        &target,
        Method::GET,
        "/v1/repositories/docker/proxy/docker-proxy",
        None,
    )
    .await;
    assert_eq!(proxy["proxy"]["remoteUrl"], "http://127.0.0.1:9");
    assert_eq!(proxy["proxy"]["metadataMaxAge"], 60);
    assert_eq!(proxy["negativeCache"]["timeToLive"], 30);
    let (_, group) = rest(
        &target,
        Method::GET,
        "/v1/repositories/docker/group/docker-group",
        None,
    )
    .await;
    assert_eq!(
        group["group"]["memberNames"],
        json!(["docker-hosted", "docker-proxy"])
    );
    assert_eq!(group["group"]["writableMember"], "docker-hosted");
    let (_, store) = rest(&target, Method::GET, "/v1/blobstores/file/docker", None).await;
    assert_eq!(store["softQuota"]["limit"], 500_000_000_000u64);
    let (_, realms) = rest(&target, Method::GET, "/v1/security/realms/active", None).await;
    assert_eq!(
        realms,
        json!([
            "NexusAuthenticatingRealm",
            "NexusAuthorizingRealm",
            "DockerToken"
        ])
    );
    let (_, anonymous) = rest(&target, Method::GET, "/v1/security/anonymous", None).await;
    assert_eq!(anonymous["enabled"], true);

    // The users' random passwords are in a 0600 file, and they work on the target.
    let passwords = dir.path().join("passwords.txt");
    let mode = std::fs::metadata(&passwords).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&passwords).unwrap();
    let ci = text
        .lines()
        .find_map(|l| l.strip_prefix("ci\t"))
        .expect("ci's password");
    assert_eq!(report["users"]["mode"], "randomPassword");
    let r = fresh(&target, Method::GET, "/v2/")
        .basic_auth("ci", Some(ci))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!stderr.contains(ci), "a password reached the output");

    // And the images came along, digest for digest.
    for tag in ["1", "2"] {
        let want = digest_of(&source, true, "docker-hosted", "team/app", tag).await;
        assert_eq!(
            digest_of(&target, true, "docker-hosted", "team/app", tag).await,
            want
        );
    }
    assert_eq!(content(&report, "docker-hosted")["tagsCopied"], 2);
}

/// Closes the source's connector ports: with both servers on one host they would be taken
/// on the target, which then (rightly) reports the repositories as differing on every run.
async fn close_source_connectors(source: &TestApp) {
    for (kind, name) in [
        ("hosted", "docker-hosted"),
        ("proxy", "docker-proxy"),
        ("group", "docker-group"),
    ] {
        let path = format!("/v1/repositories/docker/{kind}/{name}");
        let (_, mut body) = rest(source, Method::GET, &path, None).await;
        body["docker"]["httpPort"] = Value::Null;
        ok(source, Method::PUT, &path, body).await;
    }
}

#[tokio::test]
async fn a_second_run_keeps_what_an_operator_changed_and_copies_nothing_unless_overwrite() {
    let (source, _) = seeded_source().await;
    close_source_connectors(&source).await;
    let target = spawn_secured().await;
    let dir = tempfile::tempdir().unwrap();
    let (success, first, stderr) = run_import(&source, &target, dir.path(), &[]);
    assert!(success, "{first:#}\n{stderr}");
    let uploads = blobs_pushed(&target, true).await;
    let passwords = std::fs::read_to_string(dir.path().join("passwords.txt")).unwrap();
    // An operator edits a role on Berth after the import.
    ok(&target, Method::PUT, "/v1/security/roles/docker-pull", json!({"id": "docker-pull",
        "name": "docker-pull", "description": "edited in Berth", "privileges": ["group-pull"], "roles": []})).await;

    let (success, second, stderr) = run_import(&source, &target, dir.path(), &[]);

    assert!(success, "{second:#}\n{stderr}");
    assert_eq!(outcome(&second, "role", "docker-pull"), "kept");
    for (kind, name) in [
        ("blobStore", "docker"),
        ("repository", "docker-hosted"),
        ("repository", "docker-group"),
        ("role", "docker-push"),
        ("user", "ci"),
        ("realms", "active"),
        ("anonymous", "settings"),
    ] {
        assert_eq!(
            outcome(&second, kind, name),
            "unchanged",
            "{kind} {name}: {second:#}"
        );
    }
    let hosted = content(&second, "docker-hosted");
    assert_eq!(hosted["tagsPresent"], 2, "{hosted}");
    assert_eq!(hosted["blobsCopied"], 0, "{hosted}");
    assert_eq!(
        blobs_pushed(&target, true).await,
        uploads,
        "a re-run uploaded blobs again"
    );
    let again = std::fs::read_to_string(dir.path().join("passwords.txt")).unwrap();
    assert_eq!(again, passwords, "existing users got new passwords");
    let (_, role) = rest(&target, Method::GET, "/v1/security/roles/docker-pull", None).await;
    assert_eq!(role["description"], "edited in Berth");

    let (success, third, _) = run_import(&source, &target, dir.path(), &["--overwrite"]);

    assert!(success);
    assert_eq!(outcome(&third, "role", "docker-pull"), "updated");
    let (_, role) = rest(&target, Method::GET, "/v1/security/roles/docker-pull", None).await;
    assert_eq!(role["description"], "");
}

#[tokio::test]
async fn a_dry_run_reports_counts_and_bytes_per_repository_and_changes_nothing() {
    let (source, _) = seeded_source().await;
    let target = spawn_secured().await;
    let dir = tempfile::tempdir().unwrap();

    let (success, report, stderr) = run_import(&source, &target, dir.path(), &["--dry-run"]);

    assert!(success, "{report:#}\n{stderr}");
    assert_eq!(report["dryRun"], true);
    assert_eq!(
        outcome(&report, "repository", "docker-proxy"),
        "wouldCreate"
    );
    assert_eq!(outcome(&report, "user", "ci"), "wouldCreate");
    assert_eq!(
        outcome(&report, "repository", "docker-hosted"),
        "wouldUpdate"
    );
    let hosted = content(&report, "docker-hosted");
    assert_eq!(hosted["images"], 1);
    assert_eq!(hosted["tags"], 2);
    assert_eq!(hosted["manifests"], 2);
    // Two configs, the shared layer once, and one layer per tag.
    assert_eq!(hosted["blobs"], 5, "{hosted}");
    assert!(hosted["bytes"].as_u64().unwrap() > 17_000, "{hosted}");
    let (_, repos) = rest(&target, Method::GET, "/v1/repositories", None).await;
    assert_eq!(repos.as_array().unwrap().len(), 1, "{repos}");
    let (status, _) = rest(&target, Method::GET, "/v1/security/roles/docker-push", None).await;
    assert_eq!(status, 404);
    assert_eq!(blobs_pushed(&target, true).await, 0);
    assert!(!dir.path().join("passwords.txt").exists());

    // The same for people.
    let out = import_command(&source, &target, dir.path(), &["--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success());
    assert!(text.starts_with("Dry run of the import from"), "{text}");
    assert!(
        text.contains("docker-proxy") && text.contains("WouldCreate"),
        "{text}"
    );
    assert!(
        text.contains("1 images, 2 tags, 2 manifests, 5 blobs"),
        "{text}"
    );
}

#[tokio::test]
async fn users_can_be_created_disabled_and_the_report_says_so() {
    let (source, _) = seeded_source().await;
    let target = spawn_secured().await;
    let dir = tempfile::tempdir().unwrap();

    let (success, report, _) = run_import(&source, &target, dir.path(), &["--disable-users"]);

    assert!(success, "{report:#}");
    assert_eq!(report["users"]["mode"], "disabled");
    assert!(report["users"].get("passwordFile").is_none());
    let (_, users) = rest(&target, Method::GET, "/v1/security/users?userId=ci", None).await;
    let ci = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userId"] == "ci")
        .unwrap();
    assert_eq!(ci["status"], "disabled");
    assert_eq!(ci["roles"], json!(["docker-push"]));
    assert!(!dir.path().join("passwords.txt").exists());
}

#[tokio::test]
async fn wrong_source_credentials_fail_with_a_clear_message_and_change_nothing() {
    let source = spawn_secured().await;
    let target = spawn_secured().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("source-password"), "not-the-password").unwrap();

    let out = import_command(&source, &target, dir.path(), &[])
        .output()
        .unwrap();

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("source Nexus") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    let (_, stores) = rest(&target, Method::GET, "/v1/blobstores", None).await;
    assert_eq!(stores.as_array().unwrap().len(), 1, "{stores}");
}
