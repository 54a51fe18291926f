//! `tags/list` with several nodes: an empty first page (an image without tags, an unknown
//! name, `n=0`) is told apart by an existence query, so a flood of such requests on a node
//! never loads an image (`berth_image_loads_total` stays put); before, each one reloaded the
//! whole image through its actor.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::cluster::Cluster;
use crate::common::metrics::{scrape, value};
use crate::common::*;

/// `berth_image_loads_total` of `app` (0 before the first load).
async fn image_loads(app: &TestApp) -> f64 {
    value(&scrape(app).await, "berth_image_loads_total", &[]).unwrap_or(0.0)
}

/// `GET path` on `app`: status and JSON body.
async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.req(Method::GET, path).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_flood_of_empty_tag_lists_on_a_node_never_loads_an_image() {
    // Arrange: through A, an image with a tag and one holding only a blob.
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    a.push("team/tagged", "v1", &Image::seeded("tagged")).await;
    a.push_blob("team/untagged", b"a blob, no manifest").await;
    let loads_before = image_loads(b).await;

    // Act: 50 rounds of four lists on B, each round at once.
    let paths = [
        "/v2/team/untagged/tags/list",
        "/v2/team/ghost/tags/list",
        "/v2/team/tagged/tags/list?n=0",
        "/v2/team/tagged/tags/list",
    ];
    let mut answers = Vec::new();
    for _ in 0..50 {
        let round = paths.iter().map(|p| get(b, p));
        answers.push(futures_util::future::join_all(round).await);
    }

    // Assert: the answers of a single node, and no image state read on B.
    let expected = [
        (200, json!({"name": "team/untagged", "tags": []})),
        (404, Value::Null),
        (200, json!({"name": "team/tagged", "tags": []})),
        (200, json!({"name": "team/tagged", "tags": ["v1"]})),
    ];
    for round in &answers {
        for ((path, got), want) in paths.iter().zip(round).zip(&expected) {
            assert_eq!(got.0, want.0, "{path}: {}", got.1);
            if want.0 == 200 {
                assert_eq!(&got.1, &want.1, "{path}");
            } else {
                assert_eq!(got.1["errors"][0]["code"], "NAME_UNKNOWN", "{path}");
            }
        }
    }
    assert_eq!(image_loads(b).await, loads_before, "{}", cluster.logs());
}
