//! Import throughput for a source of 200 images (ignored by default: a measurement, not a
//! pass/fail test). Run with
//! `cargo test --release --test import -- --ignored --nocapture two_hundred`.

use crate::common::*;
use crate::support::*;

#[tokio::test]
#[ignore]
async fn two_hundred_images_are_imported_and_the_throughput_is_printed() {
    let source = spawn_app().await;
    let target = spawn_app().await;
    let base = vec![3u8; 4 << 20];
    for i in 0..200usize {
        let own: Vec<u8> = (0..(1usize << 20))
            .map(|j| (j * 13 + i * 101 + j / 997) as u8)
            .collect();
        push_raw_image(
            &source,
            false,
            "docker-hosted",
            &format!("load/app{}", i % 20),
            &format!("t{i}"),
            &[base.clone(), own],
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();

    let (success, report, stderr) =
        run_import(&source, &target, dir.path(), &["--concurrency", "8"]);

    assert!(success, "{report:#}\n{stderr}");
    let hosted = content(&report, "docker-hosted");
    assert_eq!(hosted["tagsCopied"], 200);
    println!("{stderr}");
    println!("report: {:#}", report["content"]);
    println!(
        "throughput: {} tags, {} MB copied in {:.2} s = {:.1} MB/s, {:.1} tags/s",
        hosted["tagsCopied"],
        report["throughput"]["bytesCopied"].as_u64().unwrap() as f64 / 1e6,
        report["durationSecs"].as_f64().unwrap(),
        report["throughput"]["megabytesPerSec"].as_f64().unwrap(),
        200.0 / report["durationSecs"].as_f64().unwrap(),
    );
}
