//! Bounded metadata memory, seen from outside: with a tiny `limits.image_cache_bytes` the
//! image cache gauge never passes the budget, evictions are counted, and every evicted
//! image is still served whole (manifests, tags, blobs) and still enforces `ALLOW_ONCE`;
//! `tags/list` of a 2,500-tag image pages correctly (`n`, `last`, `Link`) from the database
//! without loading the image, and from memory once it is loaded, on SQLite and PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

use common::postgres::Postgres;
use common::*;
use reqwest::Method;

const BYTES: &str = "berth_image_cache_bytes";
const IMAGES: &str = "berth_image_cache_images";
const EVICTIONS: &str = "berth_image_cache_evictions_total";

/// Room for a handful of one-tag images (about 1.5 KiB each, estimated).
const TINY: u64 = 8 * 1024;

fn tiny_cache_config() -> String {
    format!(
        r#"
[limits]
image_cache_bytes = {TINY}

[[repositories]]
name = "once"
type = "hosted"
write_policy = "ALLOW_ONCE"
latest_policy = false
"#
    )
}

/// The cache gauges, asserting the bytes are within `limit`.
async fn cache_within(app: &TestApp, limit: u64, when: &str) -> (f64, f64) {
    let text = scrape(app).await;
    let bytes = value(&text, BYTES, &[]).unwrap_or(0.0);
    assert!(
        bytes <= limit as f64,
        "{when}: image cache at {bytes} bytes, budget {limit}"
    );
    (bytes, value(&text, IMAGES, &[]).unwrap_or(0.0))
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.req(Method::GET, path)
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tiny_image_cache_stays_within_budget_and_evicted_images_are_served_whole() {
    // Arrange
    let (app, _config) = spawn_with_config(&tiny_cache_config()).await;
    let images: Vec<(String, Image)> = (0..24)
        .map(|i| {
            let name = format!("repository/once/app{i:02}");
            (name, Image::seeded(&format!("bounded-{i}")))
        })
        .collect();
    for (name, image) in &images {
        app.push(name, "v1", image).await;
        cache_within(&app, TINY, &format!("after pushing {name}")).await;
    }

    // Act: read every image twice over, so each is evicted and reloaded.
    for round in 0..2 {
        for (name, image) in &images {
            let r = get(&app, &format!("/v2/{name}/manifests/v1")).await;
            assert_eq!(r.status(), 200, "round {round}: {name}:v1");
            assert_eq!(header(&r, "docker-content-digest"), image.digest);
            assert_eq!(r.bytes().await.unwrap().as_ref(), image.manifest.as_slice());
            for (digest, bytes) in image.blobs() {
                let r = get(&app, &format!("/v2/{name}/blobs/{digest}")).await;
                assert_eq!(r.status(), 200, "round {round}: blob of {name}");
                assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
            }
            let tags = app.get_json_ok(&format!("/v2/{name}/tags/list")).await;
            assert_eq!(tags["tags"], serde_json::json!(["v1"]), "{name}");
            cache_within(&app, TINY, &format!("after reading {name}")).await;
        }
    }

    // Assert
    let text = scrape(&app).await;
    let evictions = value(&text, EVICTIONS, &[]).unwrap_or(0.0);
    assert!(evictions >= 24.0, "evictions counted: {evictions}");
    let (_, loaded) = cache_within(&app, TINY, "at the end").await;
    assert!(loaded > 0.0 && loaded < 24.0, "{loaded} images loaded");
    assert_eq!(
        value(&text, "berth_image_cache_limit_bytes", &[]),
        Some(TINY as f64)
    );

    // Act + Assert: an evicted image still refuses moving a tag (ALLOW_ONCE), and still
    // takes a new one.
    let (name, image) = &images[0];
    let other = app
        .push_blobs_of(name, Image::seeded("bounded-other"))
        .await;
    for (n, _) in &images[1..] {
        get(&app, &format!("/v2/{n}/manifests/v1")).await;
    }
    let r = app.put_image(name, "v1", &other).await;
    assert_oci_error(r, 403, "DENIED").await;
    let r = get(&app, &format!("/v2/{name}/manifests/v1")).await;
    assert_eq!(header(&r, "docker-content-digest"), image.digest);
    let r = app.put_image(name, "v2", &other).await;
    assert_eq!(r.status(), 201);
    let tags = app.get_json_ok(&format!("/v2/{name}/tags/list")).await;
    assert_eq!(tags["tags"], serde_json::json!(["v1", "v2"]));
    cache_within(&app, TINY, "after the refused and the accepted push").await;
}

/// Pushes one manifest tagged `t0000` … `t{count-1}` (20 tags per push by digest: the
/// client failed reading the answer to 100, likely one `OCI-Tag` header per tag).
async fn push_many_tags(app: &TestApp, name: &str, count: usize) -> Image {
    let image = app.push_blobs_of(name, Image::seeded("many-tags")).await;
    let tags: Vec<String> = (0..count).map(|i| format!("t{i:04}")).collect();
    for chunk in tags.chunks(20) {
        let query: Vec<String> = chunk.iter().map(|t| format!("tag={t}")).collect();
        let reference = format!("{}?{}", image.digest, query.join("&"));
        let r = app.put_image(name, &reference, &image).await;
        expect_status(r, 201, "push by digest with tags").await;
    }
    image
}

/// Walks `tags/list` with page size `n` along the `Link` headers; returns every tag and
/// checks each page's shape on the way.
async fn walk_tags(app: &TestApp, name: &str, n: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = format!("/v2/{name}/tags/list?n={n}");
    loop {
        let r = app.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let link = header(&r, "link");
        let page: serde_json::Value = r.json().await.unwrap();
        let tags: Vec<String> = serde_json::from_value(page["tags"].clone()).unwrap();
        assert!(tags.len() <= n, "{path}: {} tags", tags.len());
        all.extend(tags.iter().cloned());
        if link.is_empty() {
            return all;
        }
        assert_eq!(tags.len(), n, "a page followed by more is full");
        let last = tags.last().unwrap();
        assert!(link.contains(&format!("n={n}&last={last}")), "{link}");
        assert!(link.ends_with("rel=\"next\""), "{link}");
        let start = link.find("/v2/").unwrap();
        let end = link.find('>').unwrap();
        path = link[start..end].to_string();
    }
}

async fn tags_list_pages(app: &mut TestApp) {
    // Arrange
    let name = "big/app";
    let image = push_many_tags(app, name, 2_500).await;
    let want: Vec<String> = (0..2_500).map(|i| format!("t{i:04}")).collect();
    app.restart().await;

    // Act: the image is not loaded; pages come from the database.
    let from_db = walk_tags(app, name, 1_000).await;
    let (_, loaded) = cache_within(app, u64::MAX, "after listing").await;

    // Assert
    assert_eq!(from_db, want);
    assert_eq!(loaded, 0.0, "listing tags must not load the image");
    let past = app
        .get_json_ok(&format!("/v2/{name}/tags/list?n=10&last=t2499"))
        .await;
    assert_eq!(past["tags"], serde_json::json!([]));
    let middle = app
        .get_json_ok(&format!("/v2/{name}/tags/list?n=3&last=t1234"))
        .await;
    assert_eq!(
        middle["tags"],
        serde_json::json!(["t1235", "t1236", "t1237"])
    );
    let r = app
        .req(Method::GET, "/v2/big/none/tags/list?n=10")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "NAME_UNKNOWN").await;

    // Act: a pull loads the image; the same pages now come from memory.
    let r = get(app, &format!("/v2/{name}/manifests/t0042")).await;
    assert_eq!(header(&r, "docker-content-digest"), image.digest);
    let (_, loaded) = cache_within(app, u64::MAX, "after the pull").await;
    let from_memory = walk_tags(app, name, 700).await;

    // Assert
    assert_eq!(loaded, 1.0);
    assert_eq!(from_memory, want);
    let middle = app
        .get_json_ok(&format!("/v2/{name}/tags/list?n=3&last=t1234"))
        .await;
    assert_eq!(
        middle["tags"],
        serde_json::json!(["t1235", "t1236", "t1237"])
    );
}

#[tokio::test]
async fn tags_list_of_2500_tags_pages_from_sqlite_without_loading_the_image() {
    let mut app = spawn_app().await;
    tags_list_pages(&mut app).await;
}

#[tokio::test]
async fn tags_list_of_2500_tags_pages_from_postgres_without_loading_the_image() {
    let Some(pg) = Postgres::start() else { return };
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("pg-password");
    std::fs::write(&file, pg.password()).unwrap();
    let url = format!("BERTH_META__URL={}", pg.url_without_password());
    let password = format!("BERTH_META__PASSWORD_FILE={}", file.display());
    let mut app = spawn_app_with(&[&url, &password]).await;
    tags_list_pages(&mut app).await;
}
