use crate::common::spawn_app;
use crate::support::{berth_load, LAYERS};

#[tokio::test]
async fn pull_storm_pulls_like_docker_and_verifies_every_blob() {
    let app = spawn_app().await;

    let run = berth_load(
        &app,
        &format!("pull-storm --layers {LAYERS} --clients 4 --count 12"),
    )
    .await;

    run.assert_clean();
    assert_eq!(run.requests("pull"), 12);
    assert_eq!(run.requests("manifest"), 12);
    assert_eq!(run.requests("config"), 12);
    assert_eq!(run.requests("layer"), 12 * 5);
    // Manifest, config and 5 layers per pull, each hashed and compared with its digest.
    assert_eq!(run.report["verified"], 12 * 7);
}

#[tokio::test]
async fn manifest_storm_heads_and_gets_the_seeded_tag() {
    let app = spawn_app().await;

    let run = berth_load(
        &app,
        "manifest-storm --layers 4K --clients 16 --count 400 --method both",
    )
    .await;

    run.assert_clean();
    assert_eq!(
        run.requests("manifest") + run.requests("manifest-head"),
        400
    );
}

#[tokio::test]
async fn push_storm_pushes_distinct_images_monolithic_and_chunked() {
    let app = spawn_app().await;

    let mono = berth_load(
        &app,
        "push-storm --clients 4 --count 8 --push-layers 4K,300K",
    )
    .await;
    let chunked = berth_load(
        &app,
        "push-storm --clients 4 --count 8 --push-layers 4K,300K --mode chunked --chunk-size 64K",
    )
    .await;

    mono.assert_clean();
    chunked.assert_clean();
    for run in [&mono, &chunked] {
        assert_eq!(run.requests("image-push"), 8);
        assert_eq!(run.requests("manifest-put"), 8);
        // Config and two layers per image.
        assert_eq!(run.requests("blob-push"), 8 * 3);
    }
}

#[tokio::test]
async fn push_storm_of_small_blobs_only_pushes_every_blob() {
    let app = spawn_app().await;

    let run = berth_load(
        &app,
        "push-storm --clients 8 --count 64 --push-layers 2K --blobs-only",
    )
    .await;

    run.assert_clean();
    assert_eq!(run.requests("blob-push"), 64);
}

#[tokio::test]
async fn big_push_uploads_one_blob_each_way() {
    let app = spawn_app().await;

    let run = berth_load(&app, "big-push --size 5M --chunk-size 1M").await;

    run.assert_clean();
    assert_eq!(run.requests("big-push-mono"), 1);
    assert_eq!(run.requests("big-push-chunked"), 1);
    assert_eq!(run.op("big-push-chunked")["bytes"], 5 << 20);
}

#[tokio::test]
async fn mixed_pulls_verify_while_pushes_run() {
    let app = spawn_app().await;

    let run = berth_load(
        &app,
        &format!("mixed --layers {LAYERS} --duration 2s --pull-clients 3 --push-clients 2"),
    )
    .await;

    run.assert_clean();
    assert!(
        run.requests("pull") > 0 && run.requests("image-push") > 0,
        "{:#}",
        run.report
    );
}

#[tokio::test]
async fn a_registry_serving_corrupted_bytes_fails_the_pull_storm() {
    let app = spawn_app().await;
    let seed = berth_load(&app, "seed --layers 4K,64K").await;
    seed.assert_clean();
    // Flip bytes of every stored blob of 64 KiB behind the registry's back, keeping the size.
    let mut corrupted = 0;
    for path in files_under(&app.data_dir()) {
        if std::fs::metadata(&path).unwrap().len() == 64 << 10 {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[1000] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
            corrupted += 1;
        }
    }
    assert_eq!(
        corrupted, 1,
        "expected to find the 64 KiB layer in the store"
    );

    let run = berth_load(&app, "pull-storm --layers 4K,64K --clients 2 --count 4").await;

    assert!(
        !run.output.status.success(),
        "corrupted blobs went unnoticed"
    );
    assert_eq!(run.report["errors"], 4, "{:#}", run.report);
    let first = run.report["first_errors"][0].as_str().unwrap_or_default();
    assert!(first.contains("hashes to"), "{first}");
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
