//! Image state: pushes, tag moves and deletions on node A reach node B's warm cache; with
//! PostgreSQL down B serves warm reads from memory; after PostgreSQL restarts (B's
//! listener reconnects) a change on A still reaches B.

use crate::common::cluster::{eventually, Cluster};
use crate::common::*;
use crate::{head_manifest, report, WITHIN};

#[tokio::test]
async fn pushes_tag_moves_and_deletions_on_one_node_are_served_by_the_other() {
    // Arrange: B has served v1 once, so its state of the image is warm.
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let first = a.push("team/app", "v1", &Image::seeded("coh-1")).await;
    assert_eq!(
        head_manifest(b, "/v2/team/app", "v1").await,
        (200, first.clone())
    );

    // Act: the tag moves on A (write policy ALLOW).
    let second = a.push("team/app", "v1", &Image::seeded("coh-2")).await;

    // Assert: B serves the new digest.
    let (_, took) = eventually("B serves the moved tag", WITHIN, || async {
        let (status, digest) = head_manifest(b, "/v2/team/app", "v1").await;
        (status == 200 && digest == second).then_some(())
    })
    .await;
    report("tag moved on A, served by B", took);

    // A tag added on A is served by B at once, announced or not yet: B's miss asks the
    // database (read-after-write across nodes).
    a.push("team/app", "v2", &Image::seeded("coh-3")).await;
    assert_eq!(head_manifest(b, "/v2/team/app", "v2").await.0, 200);
    // Blobs pushed through A, the manifest through B right after (a client behind a load
    // balancer): B finds the blobs.
    let split = a.push_blobs_of("team/app", Image::seeded("coh-4")).await;
    expect_status(
        b.put_image("team/app", "v3", &split).await,
        201,
        "manifest on B",
    )
    .await;
    assert_eq!(
        head_manifest(a, "/v2/team/app", "v3").await,
        (200, split.digest.clone())
    );

    // A blob uploaded through A is found by a HEAD on B at once, B's state of the image
    // being warm (Docker checks each layer that way right after uploading it, and the load
    // balancer may send the check elsewhere). Repeated: announced or not yet, always found.
    for i in 0..10u8 {
        let bytes = [b'L', i, 7, 7];
        let digest = a.push_blob("team/app", &bytes).await;
        let r = b
            .req(
                reqwest::Method::HEAD,
                &format!("/v2/team/app/blobs/{digest}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "blob {i} pushed on A not found on B");
    }

    // A tag deleted on A is gone on B.
    assert_eq!(
        a.delete("/v2/team/app/manifests/v2").await,
        202,
        "{}",
        cluster.logs()
    );
    let (_, took) = eventually("B refuses the deleted tag", WITHIN, || async {
        (head_manifest(b, "/v2/team/app", "v2").await.0 == 404).then_some(())
    })
    .await;
    report("tag deleted on A, 404 on B", took);

    // A manifest deleted on A is gone on B, by digest and by its tag.
    assert_eq!(head_manifest(b, "/v2/team/app", &second).await.0, 200);
    let path = format!("/v2/team/app/manifests/{second}");
    assert_eq!(a.delete(&path).await, 202, "{}", cluster.logs());
    let (_, took) = eventually("B refuses the deleted manifest", WITHIN, || async {
        let by_digest = head_manifest(b, "/v2/team/app", &second).await.0;
        let by_tag = head_manifest(b, "/v2/team/app", "v1").await.0;
        (by_digest == 404 && by_tag == 404).then_some(())
    })
    .await;
    report("manifest deleted on A, 404 on B", took);
}

#[tokio::test]
async fn a_change_made_after_postgres_restarted_still_reaches_the_other_node() {
    // Arrange: B is warm on v1, then the database restarts under both nodes.
    let Some(mut cluster) = Cluster::start(2, "").await else {
        return;
    };
    let first = cluster
        .node(0)
        .push("team/db", "v1", &Image::seeded("pg-1"))
        .await;
    let b = &cluster.nodes[1];
    assert_eq!(
        head_manifest(b, "/v2/team/db", "v1").await,
        (200, first.clone())
    );
    // With the database down, B still serves what it holds (a warm read never asks the
    // database) and a miss, which asks it, says it is unavailable.
    cluster.pg.stop();
    assert_eq!(
        head_manifest(b, "/v2/team/db", "v1").await,
        (200, first.clone())
    );
    assert_eq!(head_manifest(b, "/v2/team/db", "v9").await.0, 503);
    assert_eq!(
        head_manifest(b, "/v2/team/db", "v1").await,
        (200, first.clone())
    );
    cluster.pg.restart();

    // Both nodes serve again (their pools replace broken connections); B warms up again.
    let (a, b) = (cluster.node(0), cluster.node(1));
    eventually("B reads after the restart", WITHIN, || async {
        (head_manifest(b, "/v2/team/db", "v1").await == (200, first.clone())).then_some(())
    })
    .await;

    // Act: the tag moves on A, after the restart.
    let image = Image::seeded("pg-2");
    let (second, _) = eventually("A writes after the restart", WITHIN, || async {
        let r = push_with(|m, p| a.req(m, p), "/v2/team/db", "v1", &image).await;
        (r.status() == 201).then(|| image.digest.clone())
    })
    .await;

    // Assert
    let (_, took) = eventually(
        "B serves the tag moved after the restart",
        WITHIN,
        || async {
            let (status, digest) = head_manifest(b, "/v2/team/db", "v1").await;
            (status == 200 && digest == second).then_some(())
        },
    )
    .await;
    report(
        "tag moved on A after a PostgreSQL restart, served by B",
        took,
    );
    assert!(
        b.log().contains("change notifications resumed"),
        "B's listener did not reconnect:\n{}",
        cluster.logs()
    );
}
