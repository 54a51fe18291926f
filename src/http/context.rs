//! What every handler needs about the request's target: the repository, the URL prefix that
//! addresses it (so `Location` headers work on any route), and the protocol limits.

use crate::config::Limits;
use crate::oci::ImageName;
use crate::registry::Repository;

pub struct Ctx {
    pub repo: Repository,
    /// Prefix of API URLs for this repository, ending in `/v2/`.
    pub base: String,
    pub limits: Limits,
}

impl Ctx {
    pub fn new(repo: Repository, base: String, limits: Limits) -> Self {
        Ctx { repo, base, limits }
    }

    /// `<base><name>/<suffix>`, for `Location` and `Link` headers.
    pub fn url(&self, name: &ImageName, suffix: &str) -> String {
        format!("{}{}/{}", self.base, name, suffix)
    }
}
