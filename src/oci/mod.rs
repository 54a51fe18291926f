//! Protocol vocabulary of the OCI Distribution Spec: digests, names, manifests and the
//! error-code table. Pure types and parsing, no I/O, so every rule here is unit-tested and
//! nothing that fails to parse can reach the storage layer.

pub mod challenge;
pub mod digest;
pub mod error_code;
pub mod manifest;
pub mod name;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error_code::OciErrorCode;
pub use manifest::{annotations_json, Descriptor, ManifestError, ParsedManifest};
pub use name::{ImageName, NameError, Reference, Tag};
