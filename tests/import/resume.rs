//! Resumability: an import killed in the middle of the copy is run again and completes,
//! and across both runs the target committed each distinct blob exactly once (counted by
//! the target's own `berth_blobs_pushed_total`).

use std::time::{Duration, Instant};

use crate::common::*;
use crate::support::*;

const IMAGES: usize = 12;

#[tokio::test]
async fn an_import_killed_midway_resumes_without_copying_any_blob_twice() {
    let source = spawn_secured().await;
    let target = spawn_app().await;
    let shared = vec![7u8; 1 << 20];
    let mut tags = Vec::new();
    for i in 0..IMAGES {
        let own: Vec<u8> = (0..(6usize << 20))
            .map(|j| (j * 31 + i * 7 + j / 4096) as u8)
            .collect();
        let image = format!("resume/img{i}");
        let digest = push_raw_image(
            &source,
            true,
            "docker-hosted",
            &image,
            "v1",
            &[shared.clone(), own],
        )
        .await;
        tags.push((image, digest));
    }
    // A config and an own layer per image, and the shared layer once.
    let distinct = (2 * IMAGES + 1) as u64;
    let dir = tempfile::tempdir().unwrap();

    // First run, killed after a few blobs are committed on the target.
    let mut child = import_command(&source, &target, dir.path(), &["--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while blobs_pushed(&target, false).await < 5 {
        assert!(Instant::now() < deadline, "the import made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_kill = blobs_pushed(&target, false).await;
    assert!(
        after_kill < distinct,
        "the first run finished before the kill"
    );

    let (success, report, stderr) = run_import(&source, &target, dir.path(), &[]);

    assert!(success, "{report:#}\n{stderr}");
    assert_eq!(
        blobs_pushed(&target, false).await,
        distinct,
        "a blob was uploaded twice"
    );
    let hosted = content(&report, "docker-hosted");
    assert_eq!(
        hosted["blobsCopied"].as_u64().unwrap(),
        distinct - after_kill,
        "{hosted}"
    );
    for (image, digest) in tags {
        assert_eq!(
            digest_of(&target, false, "docker-hosted", &image, "v1").await,
            digest
        );
    }
}
