//! The real `docker` CLI against path routing and the default repository: push to a hosted
//! repository by `host/repository/<repo>/…`, pull the same image back through a group and
//! through the default repository (the group), getting the same image id each time.

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

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
