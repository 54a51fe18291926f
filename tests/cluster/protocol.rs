//! The registry protocol through nginx: sessions stay on their node, everything else is
//! spread, and a client sees one registry.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::common::cluster::eventually;
use crate::common::*;
use crate::support::*;

/// How long another node may take to see a change (milliseconds measured; seconds allowed).
const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test]
async fn chunked_uploads_through_nginx_stay_on_the_node_holding_their_session() {
    let Some(c) = fronted("").await else { return };
    let mut holders = BTreeSet::new();
    for i in 0..6 {
        // One image per upload: each is read back by nodes that have not seen it yet.
        let name = format!("chunks/app{i}");
        let bytes = noise(i, 300_000);
        let mut location = c.front.start_upload(&name).await;
        let node = session_node(&location);
        holders.insert(node);
        // Every chunk is its own request through nginx; a request reaching another node
        // would find no session there (404) and the helper would fail.
        for part in bytes.chunks(100_000) {
            location = c.front.patch_upload(&location, part).await;
            assert_eq!(session_node(&location), node, "the session kept its id");
        }
        let status = c.front.req(Method::GET, &location).send().await.unwrap();
        assert_eq!(status.status(), 204, "upload status through nginx");
        assert_eq!(header(&status, "range"), "0-299999");
        let r = c.front.finish_upload(&location, &sha256(&bytes)).await;
        expect_status(r, 201, "finish through nginx").await;
        // Committed to the shared store and database: every node serves it.
        for (n, app) in c.cluster.nodes.iter().enumerate() {
            let (status, body) = get_blob(app, &name, &sha256(&bytes)).await;
            assert_eq!(status, 200, "blob on node {n}:\n{}", c.logs());
            assert_eq!(body, bytes, "blob on node {n}");
        }
    }
    assert!(
        holders.len() >= 2,
        "six sessions all opened on one node ({holders:?}): nginx did not spread them"
    );
}

#[tokio::test]
async fn a_session_id_sent_to_another_node_is_a_clean_blob_upload_unknown() {
    let Some(c) = fronted("").await else { return };
    let location = c.front.start_upload("wrong/node").await;
    let holder = session_node(&location);
    let other = c.cluster.node((holder + 1) % c.cluster.nodes.len());
    let r = other
        .req(Method::PATCH, &location_path(&location))
        .body("chunk")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    // The session itself is untouched on its node.
    let bytes = b"after a stray request";
    let location = c.front.patch_upload(&location, bytes).await;
    let r = c.front.finish_upload(&location, &sha256(bytes)).await;
    expect_status(r, 201, "finish on the holder").await;
}

#[tokio::test]
async fn the_protocol_subset_works_through_nginx_as_through_one_registry() {
    let Some(c) = fronted("").await else { return };
    let front = &c.front;
    // Monolithic blob uploads and a manifest, each request wherever nginx sends it.
    let image = Image::seeded("through nginx");
    let digest = front.push("proto/app", "v1", &image).await;
    let head = front
        .req(Method::HEAD, "/v2/proto/app/manifests/v1")
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200, "{}", c.logs());
    assert_eq!(header(&head, "docker-content-digest"), digest);
    assert_pulls(front, "proto/app", "v1", &image).await;
    assert_pulls(front, "proto/app", &digest, &image).await;

    // Cross-repository mount.
    let (layer, _) = image.layer();
    let r = front
        .req(
            Method::POST,
            &format!("/v2/proto/other/blobs/uploads/?mount={layer}&from=proto/app"),
        )
        .send()
        .await
        .unwrap();
    expect_status(r, 201, "cross-repository mount").await;
    let (status, _) = get_blob(front, "proto/other", layer).await;
    assert_eq!(status, 200);

    // Tags.
    front
        .push("proto/app", "v2", &Image::seeded("second tag"))
        .await;
    // Lists read the database in a cluster: whichever node answers, it lists the tag just
    // pushed through another.
    for _ in 0..5 {
        let tags = front.get_json_ok("/v2/proto/app/tags/list").await;
        assert_eq!(tags["tags"], json!(["v1", "v2"]), "{}", c.logs());
    }

    // Referrers: an artifact whose subject is the image.
    let empty = front.push_blob("proto/app", b"{}").await;
    let signature = front.push_blob("proto/app", b"a signature").await;
    let artifact = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.example.signature",
                    "digest": signature, "size": 11}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": image.manifest.len()}
    })
    .to_string();
    let artifact_digest = sha256(artifact.as_bytes());
    let r = front
        .put_manifest(
            "proto/app",
            &artifact_digest,
            OCI_MANIFEST,
            artifact.as_bytes(),
        )
        .await;
    expect_status(r, 201, "artifact").await;
    let referrers = front
        .get_json_ok(&format!("/v2/proto/app/referrers/{digest}"))
        .await;
    let listed: Vec<&str> = referrers["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![artifact_digest.as_str()], "{referrers}");

    // Delete by digest: gone through every node.
    let second = Image::seeded("second tag");
    let status = front
        .delete(&format!("/v2/proto/app/manifests/{}", second.digest))
        .await;
    assert_eq!(status, 202, "{}", c.logs());
    for (n, app) in c.cluster.nodes.iter().enumerate() {
        eventually(
            &format!("node {n} stops serving the deleted manifest"),
            WITHIN,
            || async {
                let (status, _) = get_manifest(app, "proto/app", &second.digest).await;
                (status == 404).then_some(())
            },
        )
        .await;
    }
}

#[tokio::test]
async fn docker_pushes_and_pulls_through_nginx() {
    use crate::common::docker::{self, LocalImages};
    if !docker::docker_present() {
        return;
    }
    let Some(c) = fronted("").await else { return };
    let context = tempfile::tempdir().unwrap();
    let mut images = LocalImages(Vec::new());
    // Several layers, so several sessions, spread over the nodes.
    let reference = images.add(&format!("{}/cluster/docker:1", c.nginx.addr));
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("part{i}.bin"), noise(40 + i, 2 << 20)))
        .collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let id = docker::build_scratch_files(context.path(), &reference, &files, "");
    let out = docker::docker_output(&["push", &reference]);
    assert!(
        out.status.success(),
        "docker push through nginx: {}\n{}",
        docker::output_text(&out),
        c.logs()
    );
    docker::docker(&["rmi", "-f", &reference]);
    docker::docker(&["pull", &reference]);
    assert_eq!(docker::image_id(&reference), id, "round trip through nginx");
    let sessions: BTreeSet<String> = c
        .nginx
        .access_log()
        .lines()
        .filter(|l| l.contains("PATCH /v2/cluster/docker/blobs/uploads/"))
        .filter_map(|l| l.split("/blobs/uploads/").nth(1))
        .filter_map(|rest| rest.split('.').next().map(str::to_string))
        .collect();
    assert!(!sessions.is_empty(), "docker sent no PATCH through nginx");
}
