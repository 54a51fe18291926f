//! Memory amplification: large annotations, large referrers lists and many connections
//! sending large manifests must not make the server's resident memory grow with them. Each
//! scenario is the reproduction; the ceiling is 64 MiB of growth, measured from
//! `/proc/<pid>/status` (the peak, `VmHWM`, where the scenario is transient).

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

const MIB: u64 = 1 << 20;
const CEILING: u64 = 64 * MIB;

/// A config and a layer for `name`; returns their (digest, size) pairs.
async fn base_blobs(app: &TestApp, name: &str) -> ((String, usize), (String, usize)) {
    let config = b"{\"architecture\":\"amd64\"}".to_vec();
    let layer = b"one small layer".to_vec();
    let c = app.push_blob(name, &config).await;
    let l = app.push_blob(name, &layer).await;
    ((c, config.len()), (l, layer.len()))
}

/// An OCI manifest over the base blobs with about `annotation_bytes` of annotations
/// (unique per `seed`), and optionally a subject.
fn annotated_manifest(
    base: &((String, usize), (String, usize)),
    seed: usize,
    annotation_bytes: usize,
    subject: Option<(&str, usize)>,
) -> Vec<u8> {
    let ((c, cs), (l, ls)) = base;
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": {"mediaType": OCI_CONFIG, "digest": c, "size": cs},
        "layers": [{"mediaType": OCI_LAYER, "digest": l, "size": ls}],
        "annotations": {
            "org.example.seed": seed.to_string(),
            "org.example.payload": format!("{seed:08}").repeat(annotation_bytes / 8),
        },
    });
    if let Some((digest, size)) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size});
    }
    serde_json::to_vec(&m).unwrap()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

#[tokio::test]
async fn manifests_with_a_mebibyte_of_annotations_each_add_under_64_mib_before_and_after_a_restart()
{
    // Arrange
    let mut app = spawn_app().await;
    let name = "mem/annotated";
    let base = base_blobs(&app, name).await;
    let before = app.rss_bytes();
    // Act: the 150 manifests with 1 MiB of annotations each.
    for i in 0..150 {
        let body = annotated_manifest(&base, i, MIB as usize, None);
        let r = app
            .put_manifest(name, &format!("t{i}"), OCI_MANIFEST, &body)
            .await;
        assert_eq!(r.status(), 201, "push {i}: {}", r.text().await.unwrap());
    }
    let after_pushes = app.rss_bytes();
    app.restart_gracefully().await;
    let after_restart_start = app.rss_bytes();
    // Loads the image state (every manifest record) and serves one of the manifests.
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/t7"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after_load = app.rss_bytes();
    // Assert
    let pushed = after_pushes.saturating_sub(before);
    let loaded = after_load.saturating_sub(after_restart_start);
    eprintln!(
        "RSS: {:.1} MiB before, +{:.1} MiB after 150 pushes; after restart {:.1} MiB, +{:.1} MiB once loaded",
        mib(before),
        mib(pushed),
        mib(after_restart_start),
        mib(loaded)
    );
    assert!(pushed < CEILING, "pushes added {:.1} MiB", mib(pushed));
    assert!(loaded < CEILING, "loading added {:.1} MiB", mib(loaded));
}

/// Follows `Link` headers through the referrers list; returns every descriptor.
async fn all_referrers(app: &TestApp, name: &str, subject: &str) -> Vec<Value> {
    let mut url = app.url(&format!("/v2/{name}/referrers/{subject}"));
    let mut out = Vec::new();
    loop {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let link = header(&r, "link");
        let index: Value = r.json().await.unwrap();
        out.extend(index["manifests"].as_array().unwrap().iter().cloned());
        if link.is_empty() {
            return out;
        }
        let next = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string();
        assert!(link.ends_with("rel=\"next\""), "{link}");
        url = app.url(&next);
    }
}

#[tokio::test]
async fn four_concurrent_listings_of_large_referrers_add_under_64_mib_and_page_with_link() {
    // Arrange: a subject and 100 referrers with 1 MiB of annotations each.
    let app = spawn_app().await;
    let name = "mem/referred";
    let base = base_blobs(&app, name).await;
    let subject = annotated_manifest(&base, 999_999, 16, None);
    let r = app.put_manifest(name, "v1", OCI_MANIFEST, &subject).await;
    assert_eq!(r.status(), 201);
    let subject_digest = sha256(&subject);
    let count = 100;
    for i in 0..count {
        let body = annotated_manifest(
            &base,
            i,
            MIB as usize,
            Some((&subject_digest, subject.len())),
        );
        let r = app
            .put_manifest(name, &sha256(&body), OCI_MANIFEST, &body)
            .await;
        assert_eq!(r.status(), 201, "referrer {i}: {}", r.text().await.unwrap());
    }
    let before = app.rss_bytes();
    app.reset_peak_rss();
    // Act
    let lists = join_all((0..4).map(|_| all_referrers(&app, name, &subject_digest))).await;
    // Assert
    let peak = app.peak_rss_bytes().saturating_sub(before);
    eprintln!(
        "RSS: {:.1} MiB before, peak +{:.1} MiB during 4 concurrent listings",
        mib(before),
        mib(peak)
    );
    for list in &lists {
        assert_eq!(list.len(), count, "every referrer is listed once");
        let mut seeds: Vec<usize> = list
            .iter()
            .map(|d| {
                let a = &d["annotations"];
                assert_eq!(
                    a["org.example.payload"].as_str().unwrap().len(),
                    MIB as usize
                );
                a["org.example.seed"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        seeds.sort();
        assert_eq!(seeds, (0..count).collect::<Vec<_>>());
    }
    assert!(
        peak < CEILING,
        "listings added {:.1} MiB at peak",
        mib(peak)
    );
}

/// Opens a connection and sends a manifest `PUT` declaring `len` bytes, all but the last
/// byte of the body; returns the connection (`None` if the server closed it first).
async fn stalled_put(addr: String, i: usize, len: usize) -> Option<tokio::net::TcpStream> {
    let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
    let head = format!(
        "PUT /v2/mem/flood/manifests/f{i} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: {OCI_MANIFEST}\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.ok()?;
    let mut body = vec![b' '; len - 1];
    body[0] = b'{';
    s.write_all(&body).await.ok()?;
    Some(s)
}

/// Sends the last byte and reads the status code of the answer (0 if none came).
async fn finish_put(mut s: tokio::net::TcpStream) -> u16 {
    let _ = s.write_all(b"}").await;
    let mut buf = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await;
    let n = match read {
        Ok(Ok(n)) => n,
        _ => return 0,
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_hundred_connections_sending_4_mib_manifests_add_under_64_mib_and_pushes_then_work() {
    // Arrange
    let app = spawn_app().await;
    let base = base_blobs(&app, "mem/flood").await;
    let before = app.rss_bytes();
    app.reset_peak_rss();
    // Act: the 100 connections, each with 4 MiB − 10 bytes, stalled before the end.
    let len = (4 * MIB - 10) as usize;
    let sends = (0..100).map(|i| stalled_put(app.addr.clone(), i, len));
    let connections = tokio::time::timeout(Duration::from_secs(300), join_all(sends))
        .await
        .expect("every connection sent its body or was refused");
    let peak = app.peak_rss_bytes().saturating_sub(before);
    let statuses = join_all(connections.into_iter().flatten().map(finish_put)).await;
    // Assert
    eprintln!(
        "RSS: {:.1} MiB before, peak +{:.1} MiB with 100 connections; statuses {statuses:?}",
        mib(before),
        mib(peak)
    );
    assert!(peak < CEILING, "the connections added {:.1} MiB", mib(peak));
    let manifest = annotated_manifest(&base, 1, 64, None);
    let r = app
        .put_manifest("mem/flood", "after", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), 201, "a normal push works afterwards");
}

#[tokio::test]
async fn a_manifest_put_that_finds_the_body_budget_used_up_gets_429_toomanyrequests() {
    // Arrange: a budget of one 4 MiB manifest, taken by a stalled connection.
    let app = spawn_app_with(&["BERTH_LIMITS__MANIFEST_BUFFER_BYTES=1"]).await;
    let base = base_blobs(&app, "mem/flood").await;
    let stalled = stalled_put(app.addr.clone(), 0, (4 * MIB) as usize)
        .await
        .expect("the first connection is read");
    // Act
    let manifest = annotated_manifest(&base, 2, 64, None);
    let refused = app
        .put_manifest("mem/flood", "queued", OCI_MANIFEST, &manifest)
        .await;
    // Assert
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_oci_error(refused, 429, "TOOMANYREQUESTS").await;
    assert_eq!(
        finish_put(stalled).await,
        400,
        "the stalled body was no manifest"
    );
    let r = app
        .put_manifest("mem/flood", "queued", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), 201, "room given back is used again");
}
