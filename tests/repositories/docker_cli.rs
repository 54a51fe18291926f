//! The real `docker` CLI against path routing and the default repository: push to a hosted
//! repository by `host/repository/<repo>/…`, pull the same image back through a group and
//! through the default repository (the group), getting the same image id each time.

use std::process::{Command, Output, Stdio};

use crate::common::*;
use crate::support::*;

/// True if a docker daemon is reachable. When it is not, the test fails, unless
/// `BERTH_SKIP_DOCKER=1` is set, in which case it is skipped with a note.
fn docker_present() -> bool {
    if docker_available() {
        return true;
    }
    if std::env::var("BERTH_SKIP_DOCKER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: docker is not available and BERTH_SKIP_DOCKER=1");
        return false;
    }
    panic!(
        "docker is not available on this machine: run scripts/install-test-deps.sh \
         (or set BERTH_SKIP_DOCKER=1 to skip this test deliberately)"
    );
}

fn output_of(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start docker {args:?}: {e}"))
}

/// Runs `docker args…`; panics with its output unless it exits 0; returns stdout.
fn docker(args: &[&str]) -> String {
    let out = output_of(args);
    assert!(
        out.status.success(),
        "`docker {}` failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Removes the named local images when dropped, so a failing test leaves nothing behind.
struct LocalImages(Vec<String>);

impl LocalImages {
    fn add(&mut self, reference: &str) -> String {
        self.0.push(reference.to_string());
        reference.to_string()
    }
}

impl Drop for LocalImages {
    fn drop(&mut self) {
        for reference in self.0.iter().rev() {
            let _ = output_of(&["rmi", "-f", reference]);
        }
    }
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "-f", "{{.Id}}", reference])
        .trim()
        .to_string()
}

fn absent_locally(reference: &str) -> bool {
    !output_of(&["image", "inspect", reference]).status.success()
}

#[tokio::test]
async fn docker_pushes_by_path_routing_and_pulls_through_the_group_and_the_default_repository() {
    if !docker_present() {
        return;
    }
    // Arrange
    let config = format!("default_repository = \"docker-group\"\n{GROUP_CONFIG}");
    let (app, _config) = spawn_with_config(&config).await;
    let port = app.addr.rsplit(':').next().unwrap().to_string();
    let unique = format!("app-{port}-{}", std::process::id());
    let mut images = LocalImages(Vec::new());
    let build_tag = images.add(&format!("berth-build-{unique}:latest"));
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("hello.txt"),
        format!("hello {unique}\n"),
    )
    .unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\nCMD [\"/hello.txt\"]\n",
    )
    .unwrap();
    docker(&[
        "build",
        "--force-rm",
        "-t",
        &build_tag,
        context.path().to_str().unwrap(),
    ]);
    let id = image_id(&build_tag);
    let host = format!("127.0.0.1:{port}");
    let pushed = images.add(&format!("{host}/repository/docker-hosted/{unique}:1"));
    let via_group = images.add(&format!("{host}/repository/docker-group/{unique}:1"));
    let via_default = images.add(&format!("{host}/{unique}:1"));
    let copy = images.add(&format!("{host}/repository/docker-hosted/{unique}-copy:1"));
    docker(&["tag", &build_tag, &pushed]);
    docker(&["tag", &build_tag, &copy]);
    // Act
    let push = docker(&["push", &pushed]);
    let push_copy = docker(&["push", &copy]);
    docker(&["rmi", &pushed, &copy, &build_tag]);
    assert!(absent_locally(&id), "image {id} is still present locally");
    let pull_group = docker(&["pull", &via_group]);
    let group_id = image_id(&via_group);
    docker(&["rmi", &via_group]);
    assert!(absent_locally(&id), "image {id} is still present locally");
    let pull_default = docker(&["pull", &via_default]);
    let default_id = image_id(&via_default);
    // Assert
    assert!(push.contains("digest: sha256:"), "push output:\n{push}");
    assert!(
        push_copy.contains("Mounted from") && !push_copy.contains("Pushed"),
        "the second image should mount the layer, not upload it:\n{push_copy}"
    );
    assert!(pull_group.contains("Downloaded"), "{pull_group}");
    assert!(pull_default.contains("Downloaded"), "{pull_default}");
    assert_eq!(group_id, id, "image pulled through the group differs");
    assert_eq!(
        default_id, id,
        "image pulled from the default repository differs"
    );
    let (status, _, _) =
        get_manifest(&app, &format!("repository/other-hosted/{unique}"), "1").await;
    assert_eq!(status, 404, "the push went to docker-hosted only");
}
