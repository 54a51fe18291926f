//! Repository addressing, in one place: which repository a request means and what OCI path
//! is left once that is known. The three Nexus ways, in order:
//! - a connector port (the repository's own `httpPort`): every `/v2/…` is that repository;
//! - path routing: `/repository/<repo>/v2/…` (Nexus's own form), or
//!   `/v2/repository/<repo>/<image>/…` (what `docker pull host/repository/<repo>/<image>`
//!   sends; `repository/<repo>/` is reserved, so a mistyped repository is an error, never
//!   an image created in the default repository);
//! - otherwise the configured default repository.
//!
//! Dispatch, the token realm (scope names), the gate's route table and usage counting all
//! ask this module; none of them parses the path itself. Pure string work: looking the name
//! up in the registry is the caller's.

use std::borrow::Cow;

use actix_web::HttpRequest;

use super::Connector;

/// How a request names its repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repo<'a> {
    /// The connector port serving this repository.
    Connector(&'a str),
    /// `/repository/<repo>/…`.
    PathRouted(&'a str),
    /// `/v2/repository/<repo>/<image>/…`: the client sees `repository/<repo>/` as part of
    /// the image name.
    NamePrefixed(&'a str),
    /// None named: the default repository.
    Default,
}

/// A resolved request path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    pub repo: Repo<'a>,
    /// The OCI path after the `/v2/` base, without any `repository/<repo>/` prefix.
    pub rest: &'a str,
}

impl<'a> Address<'a> {
    /// Resolves `path` as received on a connector port for `connector`, or on the main port.
    pub fn of_path(path: &'a str, connector: Option<&'a str>) -> Address<'a> {
        if let Some(name) = connector {
            return Address {
                repo: Repo::Connector(name),
                rest: after_v2(path),
            };
        }
        if let Some((name, rest)) = path_routed(path) {
            return Address {
                repo: Repo::PathRouted(name),
                rest: after_v2(rest),
            };
        }
        let rest = after_v2(path);
        match name_prefixed(rest) {
            Some((name, image_rest)) => Address {
                repo: Repo::NamePrefixed(name),
                rest: image_rest,
            },
            None => Address {
                repo: Repo::Default,
                rest,
            },
        }
    }

    /// Resolves the request's own path (its connector port included).
    pub fn of(req: &'a HttpRequest) -> Address<'a> {
        let connector = req.app_data::<Connector>().map(|c| c.0.as_str());
        Address::of_path(req.path(), connector)
    }

    /// The repository named, or `None` for the default one.
    pub fn name(&self) -> Option<&'a str> {
        match self.repo {
            Repo::Connector(n) | Repo::PathRouted(n) | Repo::NamePrefixed(n) => Some(n),
            Repo::Default => None,
        }
    }

    /// The API base URL path clients use for this repository (`Location` headers).
    pub fn base(&self) -> Cow<'static, str> {
        match self.repo {
            Repo::PathRouted(n) => format!("/repository/{n}/v2/").into(),
            _ => Cow::Borrowed("/v2/"),
        }
    }

    /// What clients put before image names (`repository/<repo>/` under name-prefixed routing).
    pub fn prefix(&self) -> Cow<'static, str> {
        match self.repo {
            Repo::NamePrefixed(n) => format!("repository/{n}/").into(),
            _ => Cow::Borrowed(""),
        }
    }

    /// Where this client finds the token realm: under `/repository/<repo>` when it path-routes.
    pub fn realm_base(&self) -> String {
        match self.repo {
            Repo::PathRouted(n) => format!("/repository/{n}"),
            _ => String::new(),
        }
    }

    /// The repository and image a token scope's `name` means, asked at this address (the
    /// token endpoint's own path): a connector or path-routed realm decides the repository;
    /// otherwise the name may carry a `repository/<repo>/` prefix like a `/v2/` path.
    pub fn scope(&self, name: &'a str) -> (Option<&'a str>, &'a str) {
        match self.repo {
            Repo::Connector(n) | Repo::PathRouted(n) => (Some(n), name),
            Repo::NamePrefixed(_) | Repo::Default => match name_prefixed(name) {
                Some((repo, image)) => (Some(repo), image),
                None => (None, name),
            },
        }
    }
}

/// `/repository/<repo>/<rest>` → `(repo, rest)` (`rest` empty when nothing follows).
pub fn path_routed(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix("/repository/")?;
    Some(after.split_once('/').unwrap_or((after, "")))
}

/// `repository/<repo>/<rest>` → `(repo, rest)`; needs the slash after `<repo>`.
fn name_prefixed(rest: &str) -> Option<(&str, &str)> {
    rest.strip_prefix("repository/")?.split_once('/')
}

/// The path after a leading `/v2`, without leading slashes.
fn after_v2(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    path.strip_prefix("v2")
        .unwrap_or(path)
        .trim_start_matches('/')
}

/// Whether `path` addresses a repository at all (the registry API rather than admin, UI,
/// health or metrics): what usage counts under `counted = "repository"`.
pub fn is_repository_path(path: &str, on_connector: bool) -> bool {
    on_connector || path == "/v2" || path.starts_with("/v2/") || path_routed(path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str) -> Address<'_> {
        Address::of_path(path, None)
    }

    #[test]
    fn the_default_repository_answers_plain_v2_paths() {
        let a = at("/v2/app/manifests/1");
        assert_eq!((a.repo, a.rest), (Repo::Default, "app/manifests/1"));
        assert_eq!((a.base(), a.prefix()), ("/v2/".into(), "".into()));
        assert_eq!(at("/v2/").rest, "");
    }

    #[test]
    fn nexus_path_routing_names_the_repository_and_its_base() {
        let a = at("/repository/hub/v2/library/alpine/blobs/uploads/");
        assert_eq!(a.repo, Repo::PathRouted("hub"));
        assert_eq!(a.rest, "library/alpine/blobs/uploads/");
        assert_eq!(a.base(), "/repository/hub/v2/");
        assert_eq!(a.realm_base(), "/repository/hub");
    }

    #[test]
    fn a_name_prefix_names_the_repository_and_stays_in_client_names() {
        let a = at("/v2/repository/hub/library/alpine/tags/list");
        assert_eq!(a.repo, Repo::NamePrefixed("hub"));
        assert_eq!(a.rest, "library/alpine/tags/list");
        assert_eq!(
            (a.base(), a.prefix()),
            ("/v2/".into(), "repository/hub/".into())
        );
        // Without an image after it, `repository` is an ordinary image name.
        assert_eq!(at("/v2/repository").repo, Repo::Default);
    }

    #[test]
    fn a_connector_port_is_its_repository_whatever_the_path() {
        let a = Address::of_path("/v2/repository/other/x/tags/list", Some("mine"));
        assert_eq!(a.repo, Repo::Connector("mine"));
        assert_eq!(a.rest, "repository/other/x/tags/list");
        assert_eq!(a.realm_base(), "");
    }

    #[test]
    fn token_scopes_resolve_like_paths() {
        assert_eq!(at("/v2/token").scope("app"), (None, "app"));
        assert_eq!(
            at("/v2/token").scope("repository/hub/library/alpine"),
            (Some("hub"), "library/alpine")
        );
        assert_eq!(
            at("/repository/hub/v2/token").scope("library/alpine"),
            (Some("hub"), "library/alpine")
        );
        let port = Address::of_path("/v2/token", Some("mine"));
        assert_eq!(
            port.scope("repository/hub/x"),
            (Some("mine"), "repository/hub/x")
        );
    }

    #[test]
    fn only_registry_paths_address_a_repository() {
        assert!(is_repository_path("/v2/", false));
        assert!(is_repository_path("/repository/r/v2/a/tags/list", false));
        assert!(is_repository_path("/anything", true));
        assert!(!is_repository_path("/service/rest/v1/repositories", false));
        assert!(!is_repository_path("/v2x", false));
    }
}
