//! Manifest parsing: media types, the descriptors a manifest references, its subject and
//! artifact type. The bytes themselves are stored untouched; this module only reads them to
//! check references and to answer the referrers API.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::digest::{Digest, DigestError};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Layer media types whose blobs live elsewhere (`urls`) and need not be pushed.
const FOREIGN_LAYER_TYPES: [&str; 4] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("Content-Type {header:?} does not match the manifest's mediaType {body:?}")]
    MediaTypeMismatch { header: String, body: String },
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("descriptor has an invalid digest: {0}")]
    Digest(#[from] DigestError),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("descriptor {digest} has a negative size ({size})")]
    NegativeSize { digest: String, size: i64 },
    #[error("digest {0} is listed twice with different sizes")]
    ConflictingSizes(String),
}

/// A content descriptor as it appears in a manifest: what Berth checks of it. Its
/// annotations are checked (an object of strings) but not kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default, rename = "annotations")]
    _annotations: Option<StringMap>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

/// The fields of any supported manifest kind that Berth needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    /// Checked (an object of strings) but not kept: see [`annotations_json`].
    #[serde(default, rename = "annotations")]
    _annotations: Option<StringMap>,
}

/// What a manifest says, once checked.
#[derive(Clone, Debug)]
pub struct ParsedManifest {
    /// The media type it is stored and served with.
    pub media_type: String,
    /// `artifactType`, or for an image manifest without one, its config media type (this is
    /// what the referrers API reports).
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// Blobs (config and layers) that must exist in the repository.
    pub blobs: Vec<Digest>,
    /// Child manifests (of an index) that must exist in the repository.
    pub children: Vec<Digest>,
    /// The size each descriptor of `blobs` and `children` declares; it must be the size
    /// of the stored content.
    pub sizes: HashMap<Digest, u64>,
}

impl ParsedManifest {
    /// Parses `bytes` sent with `content_type` (the request's `Content-Type`, if any).
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(bytes)?;
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        let media_type = resolve_media_type(&raw, content_type)?;
        let is_index = is_index(&media_type);
        let subject = raw.subject.as_ref().map(checked).transpose()?;
        let mut parsed = ParsedManifest {
            artifact_type: raw.artifact_type.clone(),
            media_type,
            subject,
            blobs: Vec::new(),
            children: Vec::new(),
            sizes: HashMap::new(),
        };
        if is_index {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(ManifestError::Invalid("an index has no config or layers"));
            }
            let children = raw
                .manifests
                .ok_or(ManifestError::Invalid("an index needs a manifests array"))?;
            for child in &children {
                let digest = parsed.declare(child)?;
                parsed.children.push(digest);
            }
        } else {
            if raw.manifests.is_some() {
                return Err(ManifestError::Invalid(
                    "an image manifest has no manifests array",
                ));
            }
            let config = raw
                .config
                .ok_or(ManifestError::Invalid("an image manifest needs a config"))?;
            let digest = parsed.declare(&config)?;
            parsed.blobs.push(digest);
            if parsed.artifact_type.is_none() {
                parsed.artifact_type = Some(config.media_type.clone());
            }
            let layers = raw.layers.ok_or(ManifestError::Invalid(
                "an image manifest needs a layers array",
            ))?;
            for layer in &layers {
                if is_foreign(layer) {
                    checked(layer)?;
                } else {
                    let digest = parsed.declare(layer)?;
                    parsed.blobs.push(digest);
                }
            }
        }
        Ok(parsed)
    }

    /// Checks a descriptor of required content and records the size it declares.
    fn declare(&mut self, d: &Descriptor) -> Result<Digest, ManifestError> {
        let digest = checked(d)?;
        let size = d.size as u64;
        match self.sizes.insert(digest.clone(), size) {
            Some(other) if other != size => Err(ManifestError::ConflictingSizes(d.digest.clone())),
            _ => Ok(digest),
        }
    }
}

/// A descriptor's digest, once its digest and size are known to be well-formed.
fn checked(d: &Descriptor) -> Result<Digest, ManifestError> {
    if d.size < 0 {
        return Err(ManifestError::NegativeSize {
            digest: d.digest.clone(),
            size: d.size,
        });
    }
    Ok(Digest::parse(&d.digest)?)
}

/// The `annotations` object of a stored manifest, as its raw JSON text (borrowed from
/// `bytes`, nothing copied), for the referrers API. The manifest was checked when it was
/// pushed; a manifest that no longer parses has no annotations to report.
pub fn annotations_json(bytes: &[u8]) -> Option<&RawValue> {
    #[derive(Deserialize)]
    struct Annotations<'a> {
        #[serde(borrow, default)]
        annotations: Option<&'a RawValue>,
    }
    let found: Annotations = serde_json::from_slice(bytes).ok()?;
    found.annotations.filter(|raw| raw.get() != "null")
}

/// A JSON object whose values are all strings, checked without keeping any of it (a
/// manifest's annotations can be megabytes; the referrers API reads them again from the
/// stored bytes when it needs them).
struct StringMap;

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> serde::de::Visitor<'de> for MapVisitor {
            type Value = StringMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StringMap, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, StrOnly>()?
                    .is_some()
                {}
                Ok(StringMap)
            }
        }
        d.deserialize_map(MapVisitor)
    }
}

/// Any JSON string, ignored; anything else is an error.
struct StrOnly;

impl<'de> Deserialize<'de> for StrOnly {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl serde::de::Visitor<'_> for StrVisitor {
            type Value = StrOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<StrOnly, E> {
                Ok(StrOnly)
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

/// One child of an index with its `platform`, for views that show which platforms an
/// index lists.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub platform: Option<serde_json::Value>,
}

/// The children of a stored index, in order.
pub fn index_children(bytes: &[u8]) -> Result<Vec<IndexEntry>, ManifestError> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Option<Vec<IndexEntry>>,
    }
    let index: Index = serde_json::from_slice(bytes)?;
    index
        .manifests
        .ok_or(ManifestError::Invalid("an index needs a manifests array"))
}

/// True for the media types of an image index (OCI and Docker).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

fn is_foreign(layer: &Descriptor) -> bool {
    FOREIGN_LAYER_TYPES.contains(&layer.media_type.as_str())
        && layer.urls.as_ref().is_some_and(|u| !u.is_empty())
}

/// The manifest's media type: the body's `mediaType` when present (it must then agree with
/// the header), otherwise the header; OCI manifests may omit both, then the shape decides.
fn resolve_media_type(
    raw: &RawManifest,
    content_type: Option<&str>,
) -> Result<String, ManifestError> {
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let chosen = match (&raw.media_type, header) {
        (Some(body), Some(h)) if body != h => {
            return Err(ManifestError::MediaTypeMismatch {
                header: h.to_string(),
                body: body.clone(),
            })
        }
        (Some(body), _) => body.clone(),
        (None, Some(h)) => h.to_string(),
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    match chosen.as_str() {
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_MANIFEST_LIST => Ok(chosen),
        _ => Err(ManifestError::UnsupportedMediaType(chosen)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":3}}]{extra}}}"#,
            d('a'),
            d('b')
        )
    }

    #[test]
    fn image_manifest_lists_config_and_layers_as_required_blobs() {
        let m = ParsedManifest::parse(image("").as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.blobs.len(), 2);
        assert!(m.children.is_empty());
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
    }

    #[test]
    fn subject_and_artifact_type_are_read() {
        let extra = format!(
            r#","artifactType":"application/x-sig","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":9}}"#,
            d('c')
        );
        let m = ParsedManifest::parse(image(&extra).as_bytes(), None).unwrap();
        assert_eq!(m.artifact_type.as_deref(), Some("application/x-sig"));
        assert_eq!(m.subject.unwrap().as_str(), d('c'));
    }

    #[test]
    fn header_and_body_media_types_must_agree() {
        let err = ParsedManifest::parse(image("").as_bytes(), Some(DOCKER_MANIFEST));
        assert!(matches!(err, Err(ManifestError::MediaTypeMismatch { .. })));
    }

    #[test]
    fn malformed_manifests_are_refused() {
        assert!(ParsedManifest::parse(b"{not json", None).is_err());
        assert!(ParsedManifest::parse(br#"{"schemaVersion":1}"#, None).is_err());
        let bad_digest = image("").replace(&d('b'), "sha256:nothex");
        assert!(ParsedManifest::parse(bad_digest.as_bytes(), None).is_err());
        let odd = r#"{"schemaVersion":2,"mediaType":"text/plain","config":{}}"#;
        assert!(ParsedManifest::parse(odd.as_bytes(), None).is_err());
    }

    #[test]
    fn negative_sizes_and_non_string_annotations_are_refused() {
        let negative = image("").replace(r#""size":3"#, r#""size":-3"#);
        let err = ParsedManifest::parse(negative.as_bytes(), None);
        assert!(matches!(
            err,
            Err(ManifestError::NegativeSize { size: -3, .. })
        ));
        let numbers = image(r#","annotations":{"a":1}"#);
        assert!(ParsedManifest::parse(numbers.as_bytes(), None).is_err());
    }

    #[test]
    fn annotations_are_read_back_from_the_bytes_as_raw_json() {
        let with = image(r#","annotations":{"a":"b\"c"}"#);
        let m = ParsedManifest::parse(with.as_bytes(), None).unwrap();
        assert_eq!(m.sizes.values().copied().collect::<Vec<_>>().len(), 2);
        let raw = annotations_json(with.as_bytes()).unwrap();
        assert_eq!(raw.get(), r#"{"a":"b\"c"}"#);
        assert!(annotations_json(image("").as_bytes()).is_none());
    }

    #[test]
    fn index_children_are_required_manifests() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}}]}}"#,
            d('e')
        );
        let m = ParsedManifest::parse(body.as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(m.children.len(), 1);
        assert!(m.blobs.is_empty());
    }
}
