//! Images built in memory (config, layers, manifest) and the one way the suites push them:
//! monolithic blob uploads (`POST ?digest=`) then the manifest `PUT`, through whatever
//! request builder the caller needs (plain, Basic credentials, a connector path).

use reqwest::{Method, RequestBuilder, Response};
use serde_json::json;

use super::{oci_manifest, sha256, TestApp, DOCKER_MANIFEST, OCI_MANIFEST};

/// An image held in memory: blobs with their digests and the manifest over them.
#[derive(Clone, Debug)]
pub struct Image {
    /// (digest, bytes) of the config blob.
    pub config: (String, Vec<u8>),
    /// (digest, bytes) of each layer, in manifest order.
    pub layers: Vec<(String, Vec<u8>)>,
    pub media_type: &'static str,
    pub manifest: Vec<u8>,
    /// Digest of `manifest`.
    pub digest: String,
}

fn with_digest(bytes: Vec<u8>) -> (String, Vec<u8>) {
    (sha256(&bytes), bytes)
}

impl Image {
    /// An OCI image manifest over `config` and `layers`.
    pub fn oci(config: Vec<u8>, layers: Vec<Vec<u8>>) -> Image {
        let config = with_digest(config);
        let layers: Vec<_> = layers.into_iter().map(with_digest).collect();
        let refs: Vec<(&str, usize)> = layers.iter().map(|(d, b)| (d.as_str(), b.len())).collect();
        let manifest = oci_manifest((&config.0, config.1.len()), &refs).into_bytes();
        Image::assemble(config, layers, OCI_MANIFEST, manifest)
    }

    /// A Docker schema 2 manifest (gzip layer media type) over `config` and `layers`, as
    /// `docker push` would write it.
    pub fn docker(config: Vec<u8>, layers: Vec<Vec<u8>>) -> Image {
        let config = with_digest(config);
        let layers: Vec<_> = layers.into_iter().map(with_digest).collect();
        let descriptors: Vec<_> = layers
            .iter()
            .map(|(digest, bytes)| {
                json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                       "digest": digest, "size": bytes.len()})
            })
            .collect();
        let manifest = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": config.0, "size": config.1.len()},
            "layers": descriptors})
        .to_string()
        .into_bytes();
        Image::assemble(config, layers, DOCKER_MANIFEST, manifest)
    }

    /// The small one-layer OCI image `TestApp::push_image` pushes for `seed`: the same seed
    /// always gives the same digests.
    pub fn seeded(seed: &str) -> Image {
        Image::oci(
            format!("{{\"seed\":\"{seed}\"}}").into_bytes(),
            vec![format!("layer of {seed}").into_bytes()],
        )
    }

    fn assemble(
        config: (String, Vec<u8>),
        layers: Vec<(String, Vec<u8>)>,
        media_type: &'static str,
        manifest: Vec<u8>,
    ) -> Image {
        Image {
            digest: sha256(&manifest),
            config,
            layers,
            media_type,
            manifest,
        }
    }

    /// The first layer (digest, bytes).
    pub fn layer(&self) -> &(String, Vec<u8>) {
        &self.layers[0]
    }

    /// Config first, then the layers.
    pub fn blobs(&self) -> impl Iterator<Item = &(String, Vec<u8>)> {
        std::iter::once(&self.config).chain(&self.layers)
    }
}

/// Pushes `image` as `<repo_path>/…:tag` (`repo_path` is `/v2/<name>` or a connector's
/// `/repository/<r>/v2/<name>`) with requests from `request`. Returns the response of the
/// first refused blob upload, or else of the manifest `PUT`: the caller asserts.
pub async fn push_with(
    request: impl Fn(Method, &str) -> RequestBuilder,
    repo_path: &str,
    tag: &str,
    image: &Image,
) -> Response {
    for (digest, bytes) in image.blobs() {
        let r = request(
            Method::POST,
            &format!("{repo_path}/blobs/uploads/?digest={digest}"),
        )
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
        if r.status() != 201 {
            return r;
        }
    }
    put_manifest_with(request, repo_path, tag, image).await
}

/// `PUT <repo_path>/manifests/<reference>` of `image`'s manifest.
pub async fn put_manifest_with(
    request: impl Fn(Method, &str) -> RequestBuilder,
    repo_path: &str,
    reference: &str,
    image: &Image,
) -> Response {
    request(Method::PUT, &format!("{repo_path}/manifests/{reference}"))
        .header("Content-Type", image.media_type)
        .body(image.manifest.clone())
        .send()
        .await
        .unwrap()
}

/// Panics with the response body unless `r` has status `want`.
pub async fn expect_status(r: Response, want: u16, what: &str) {
    let status = r.status().as_u16();
    if status != want {
        panic!(
            "{what}: {status} (wanted {want}): {}",
            r.text().await.unwrap()
        );
    }
}

impl TestApp {
    /// Pushes `image` as `name:tag`; panics unless every step succeeds; returns its digest.
    pub async fn push(&self, name: &str, tag: &str, image: &Image) -> String {
        let r = push_with(|m, p| self.req(m, p), &format!("/v2/{name}"), tag, image).await;
        expect_status(r, 201, &format!("push {name}:{tag}")).await;
        image.digest.clone()
    }

    /// Pushes only the blobs `image` lacks in `name` (a `HEAD` first, as clients do), then
    /// its manifest as `name:tag`; returns its digest.
    pub async fn push_missing(&self, name: &str, tag: &str, image: &Image) -> String {
        for (digest, bytes) in image.blobs() {
            let head = self
                .req(Method::HEAD, &format!("/v2/{name}/blobs/{digest}"))
                .send()
                .await
                .unwrap();
            if head.status() != 200 {
                self.push_blob(name, bytes).await;
            }
        }
        let r = self.put_image(name, tag, image).await;
        expect_status(r, 201, &format!("push {name}:{tag}")).await;
        image.digest.clone()
    }

    /// Pushes `image`'s blobs into `name` but not its manifest (see [`Self::put_image`]);
    /// returns the image.
    pub async fn push_blobs_of(&self, name: &str, image: Image) -> Image {
        for (_, bytes) in image.blobs() {
            self.push_blob(name, bytes).await;
        }
        image
    }

    /// `PUT` of `image`'s manifest as `name:reference`; the caller asserts.
    pub async fn put_image(&self, name: &str, reference: &str, image: &Image) -> Response {
        put_manifest_with(
            |m, p| self.req(m, p),
            &format!("/v2/{name}"),
            reference,
            image,
        )
        .await
    }
}
