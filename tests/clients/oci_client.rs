//! The `oci-client` crate (used by wasm and policy tooling) pushes and pulls through Berth
//! over plain HTTP with anonymous auth: chunked and monolithic blob uploads, tag listing,
//! manifest digests, cross-repository mounts and an image index with platform resolution.

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    ImageIndexEntry, OciImageIndex, OciImageManifest, OciManifest, Platform,
    IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::Method;
use std::sync::{Arc, Mutex};

use crate::common::*;

fn client(monolithic: bool) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: monolithic,
        ..Default::default()
    })
}

/// Collects the warnings oci-client logs on this thread (it silently falls back from a
/// chunked to a monolithic upload when the registry breaks the spec, and says so only there).
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Warnings {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Warnings {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn reference(app: &TestApp, name_and_tag: &str) -> Reference {
    format!("{}/{name_and_tag}", app.addr).parse().unwrap()
}

/// A config and two layers; the second is over 4 MiB, so a chunked push needs two PATCHes.
fn image(seed: u64) -> (Config, Vec<ImageLayer>) {
    let small = tar(&[("hello.txt", format!("hello {seed}\n").as_bytes())]);
    let large = gzip(&tar(&[("big.bin", &noise(seed, 5 << 20))]));
    let layers = vec![
        ImageLayer::new(small, IMAGE_LAYER_MEDIA_TYPE.to_string(), None),
        ImageLayer::new(large, IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string(), None),
    ];
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    (Config::oci_v1(config.into_bytes(), None), layers)
}

fn layers_summary(layers: &[ImageLayer]) -> Vec<(String, String, usize)> {
    layers
        .iter()
        .map(|l| (l.media_type.clone(), l.sha256_digest(), l.data.len()))
        .collect()
}

#[tokio::test]
async fn an_image_pushed_in_chunks_pulls_back_with_identical_layers_and_digests() {
    let app = spawn_app().await;
    let client = client(false);
    let auth = RegistryAuth::Anonymous;
    let image_ref = reference(&app, "ocic/app:v1");
    let (config, layers) = image(1);
    let config_bytes = config.data.clone();

    let warnings = Warnings::default();
    let guard = warnings.capture();
    let pushed = client
        .push(&image_ref, &layers, config, &auth, None)
        .await
        .expect("push");
    drop(guard);
    assert_eq!(warnings.text(), "", "the chunked push fell back or warned");
    assert!(
        pushed.manifest_url.starts_with(&app.base),
        "{}",
        pushed.manifest_url
    );

    let pulled = client
        .pull(
            &image_ref,
            &auth,
            vec![IMAGE_LAYER_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE],
        )
        .await
        .expect("pull");
    assert_eq!(layers_summary(&pulled.layers), layers_summary(&layers));
    for (got, sent) in pulled.layers.iter().zip(&layers) {
        assert!(
            got.data == sent.data,
            "layer {} differs",
            sent.sha256_digest()
        );
    }
    assert_eq!(pulled.config.data, config_bytes);
    let manifest = pulled.manifest.expect("pulled manifest");
    assert_eq!(manifest.config.digest, sha256(&config_bytes));
    let digest = pulled.digest.expect("pulled digest");

    let head_digest = client
        .fetch_manifest_digest(&image_ref, &auth)
        .await
        .expect("fetch_manifest_digest");
    assert_eq!(head_digest, digest);

    let (raw, raw_digest) = client
        .pull_manifest_raw(&image_ref, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull_manifest_raw");
    assert_eq!(raw_digest, digest);
    assert_eq!(sha256(&raw), digest);

    // oci-client leaves `mediaType` out of the manifest body; Berth takes it from the
    // Content-Type of the PUT and serves it back with that type.
    let r = app
        .req(Method::GET, &format!("/v2/ocic/app/manifests/{digest}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
}

#[tokio::test]
async fn monolithic_pushes_under_two_tags_are_listed_and_mountable_elsewhere() {
    let app = spawn_app().await;
    let client = client(true);
    let auth = RegistryAuth::Anonymous;
    let (config, layers) = image(2);
    let manifest = OciImageManifest::build(&layers, &config, None);
    for tag in ["beta", "alpha"] {
        let r = reference(&app, &format!("ocic/mono:{tag}"));
        client
            .push(&r, &layers, config.clone(), &auth, Some(manifest.clone()))
            .await
            .unwrap_or_else(|e| panic!("push {tag}: {e}"));
    }
    let any = reference(&app, "ocic/mono:alpha");
    let tags = client
        .list_tags(&any, &auth, None, None)
        .await
        .expect("list_tags");
    assert_eq!(tags.name, "ocic/mono");
    assert_eq!(tags.tags, vec!["alpha", "beta"]);
    let page = client
        .list_tags(&any, &auth, Some(1), Some("alpha"))
        .await
        .expect("list_tags page");
    assert_eq!(page.tags, vec!["beta"]);

    let (pulled, digest) = client.pull_manifest(&any, &auth).await.expect("manifest");
    let OciManifest::Image(pulled) = pulled else {
        panic!("expected an image manifest, got {pulled:?}");
    };
    assert_eq!(pulled.layers.len(), 2);
    let beta = reference(&app, "ocic/mono:beta");
    assert_eq!(
        client.fetch_manifest_digest(&beta, &auth).await.unwrap(),
        digest
    );

    // Mount each layer into another repository, then read it from there.
    let other = reference(&app, "ocic/elsewhere:v1");
    for layer in &layers {
        let layer_digest = layer.sha256_digest();
        client
            .mount_blob(&other, &any, &layer_digest)
            .await
            .unwrap_or_else(|e| panic!("mount {layer_digest}: {e}"));
        let mut out = Vec::new();
        client
            .pull_blob(&other, layer_digest.as_str(), &mut out)
            .await
            .expect("pull mounted blob");
        assert!(out == layer.data, "mounted blob {layer_digest} differs");
    }
}

#[tokio::test]
async fn an_image_index_pushed_with_oci_client_resolves_to_the_requested_platform() {
    let app = spawn_app().await;
    let auth = RegistryAuth::Anonymous;
    let pusher = client(false);
    let mut entries = Vec::new();
    let mut images = Vec::new();
    for (i, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let (config, layers) = image(10 + i as u64);
        let r = reference(&app, &format!("ocic/multi:{arch}"));
        pusher
            .push(&r, &layers, config, &auth, None)
            .await
            .unwrap_or_else(|e| panic!("push {arch}: {e}"));
        let (raw, digest) = pusher
            .pull_manifest_raw(&r, &auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .unwrap();
        entries.push(ImageIndexEntry {
            media_type: OCI_IMAGE_MEDIA_TYPE.to_string(),
            digest,
            size: raw.len() as i64,
            platform: Some(Platform {
                architecture: arch.to_string(),
                os: "linux".to_string(),
                os_version: None,
                os_features: None,
                variant: None,
                features: None,
            }),
            annotations: None,
        });
        images.push(layers);
    }
    let index = OciImageIndex {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_INDEX_MEDIA_TYPE.to_string()),
        manifests: entries,
        artifact_type: None,
        annotations: None,
    };
    let list_ref = reference(&app, "ocic/multi:latest");
    pusher
        .push_manifest_list(&list_ref, &auth, index)
        .await
        .expect("push_manifest_list");

    let r = app
        .req(Method::GET, "/v2/ocic/multi/manifests/latest")
        .header("Accept", OCI_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);

    // A client that wants linux/arm64 gets the arm64 image's layers through the index.
    let arm = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        platform_resolver: Some(Box::new(|entries: &[ImageIndexEntry]| {
            entries
                .iter()
                .find(|e| {
                    e.platform
                        .as_ref()
                        .is_some_and(|p| p.architecture == "arm64")
                })
                .map(|e| e.digest.clone())
        })),
        ..Default::default()
    });
    let pulled = arm
        .pull(
            &list_ref,
            &auth,
            vec![IMAGE_LAYER_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE],
        )
        .await
        .expect("pull through the index");
    assert_eq!(layers_summary(&pulled.layers), layers_summary(&images[1]));
}
