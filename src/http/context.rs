//! What every handler needs about the request's target: the repository (hosted or group),
//! how the client addressed it (so `Location`, `Link` and `name` fields echo the client's
//! own URLs), and the protocol limits.

use std::borrow::Cow;

use actix_web::web;

use crate::config::Limits;
use crate::oci::ImageName;
use crate::registry::{Hosted, Registry, RegistryError, Repository};
use crate::usage::Usage;

pub struct Ctx {
    pub registry: web::Data<Registry>,
    pub usage: web::Data<Usage>,
    pub repo: Repository,
    /// Prefix of API URLs, ending in `/v2/` (e.g. `/v2/` or `/repository/<repo>/v2/`).
    pub base: Cow<'static, str>,
    /// Prefix of image names as the client wrote them (`repository/<repo>/` with Nexus path
    /// routing, otherwise empty).
    pub prefix: Cow<'static, str>,
    /// Shared, not copied per request.
    pub limits: web::Data<Limits>,
}

impl Ctx {
    /// The hosted repositories reads consult, in order.
    pub fn readers(&self) -> Result<Vec<Hosted>, RegistryError> {
        self.registry.readers(&self.repo)
    }

    /// The hosted repository writes go to.
    pub fn writer(&self) -> Result<Hosted, RegistryError> {
        self.registry.writer(&self.repo)
    }

    /// The image name as the client sees it.
    pub fn client_name(&self, name: &ImageName) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// `<base><prefix><name>/<suffix>`, for `Location` and `Link` headers.
    pub fn url(&self, name: &ImageName, suffix: &str) -> String {
        format!("{}{}{}/{}", self.base, self.prefix, name, suffix)
    }
}
