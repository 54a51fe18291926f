//! Repository definitions changed over the admin API of node A take effect on node B:
//! a new repository is served, `ALLOW_ONCE` is enforced, `online = false` refuses, and a
//! deleted repository is gone.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::cluster::{eventually, Cluster};
use crate::common::*;
use crate::{head_manifest, report, WITHIN};

const HOSTED: &str = "/service/rest/v1/repositories/docker/hosted";

/// A Nexus docker-hosted body on the cluster's S3 store.
fn hosted(name: &str, write_policy: &str, online: bool) -> Value {
    json!({
        "name": name,
        "online": online,
        "storage": {"blobStoreName": "s3", "strictContentTypeValidation": true,
                    "writePolicy": write_policy},
        "docker": {"v1Enabled": false, "forceBasicAuth": false, "httpPort": null},
    })
}

#[tokio::test]
async fn repositories_created_changed_and_deleted_on_one_node_take_effect_on_the_other() {
    // Arrange
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let base = "/v2/repository/team-hosted/app";

    // Created on A: B accepts a push into it and serves it.
    let r = a
        .send_json(Method::POST, HOSTED, &hosted("team-hosted", "ALLOW", true))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let image = Image::seeded("def-1");
    let (first, took) = eventually("B accepts a push to the new repository", WITHIN, || async {
        let r = push_with(|m, p| b.req(m, p), base, "v1", &image).await;
        (r.status() == 201).then(|| image.digest.clone())
    })
    .await;
    report("repository created on A, pushed to on B", took);
    assert_eq!(head_manifest(a, base, "v1").await, (200, first));

    // ALLOW_ONCE on A: B refuses to move the tag.
    let path = format!("{HOSTED}/team-hosted");
    let r = a
        .send_json(
            Method::PUT,
            &path,
            &hosted("team-hosted", "ALLOW_ONCE", true),
        )
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    // Each attempt is another image: one B accepts before it learns the policy moves the
    // tag, and re-pushing that same digest would be allowed under ALLOW_ONCE too.
    let attempts = std::cell::Cell::new(0);
    let (_, took) = eventually(
        "B refuses to move a tag under ALLOW_ONCE",
        WITHIN,
        || async {
            attempts.set(attempts.get() + 1);
            let moved = Image::seeded(&format!("def-2-{}", attempts.get()));
            let r = push_with(|m, p| b.req(m, p), base, "v1", &moved).await;
            (r.status() == 403).then_some(())
        },
    )
    .await;
    report("ALLOW_ONCE set on A, enforced on B", took);

    // Offline on A: B answers 503.
    let r = a
        .send_json(
            Method::PUT,
            &path,
            &hosted("team-hosted", "ALLOW_ONCE", false),
        )
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, took) = eventually("B refuses an offline repository", WITHIN, || async {
        (head_manifest(b, base, "v1").await.0 == 503).then_some(())
    })
    .await;
    report("repository taken offline on A, 503 on B", took);

    // Deleted on A: B no longer knows it.
    let r = a
        .req(Method::DELETE, "/service/rest/v1/repositories/team-hosted")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, took) = eventually("B forgets the deleted repository", WITHIN, || async {
        let status = head_manifest(b, base, "v1").await.0;
        (status == 404).then_some(())
    })
    .await;
    report("repository deleted on A, 404 on B", took);
    let (status, body) = b.get_json("/service/rest/v1/repositories").await;
    assert_eq!(status, 200);
    assert!(
        !body.to_string().contains("team-hosted"),
        "B still lists the deleted repository: {body}"
    );
}
