//! Browse: repositories → a repository's images → an image's tags → one manifest (layers,
//! config, referrers, pull commands for every way of addressing it); delete a tag or a
//! manifest where the visitor holds `delete`.
//!
//! Every list is one page read from where the API reads it: images from
//! `registry::read::catalog` (the `/v2/_catalog` path, `LIMIT` in SQL), tags from
//! `Registry::tag_page` (one image's tags along the `tags` primary key, `LIMIT` in SQL,
//! with push and last-pull times and the pusher). No page loads a whole repository, so
//! 10,000 tags cost what 50 do.

use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::{context, Value};
use serde::Deserialize;

use super::form::FormData;
use super::render::page;
use super::signin::see_other;
use super::viewer::{registry, Viewer};
use super::UiError;
use crate::auth::Action;
use crate::http::origin::Origin;
use crate::model::{RepositoryConfig, RepositoryKind};
use crate::oci::{Digest, ImageName, Reference};
use crate::registry::messages::{DeleteManifest, DeleteTag};
use crate::registry::{read, Hosted, Registry, Repository};

/// Referrers listed on a manifest page.
const REFERRERS_SHOWN: usize = 100;

/// Rows per page.
const PAGE: usize = 50;

/// `?q=&last=` of the list pages.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    last: Option<String>,
    #[serde(default)]
    image: String,
    #[serde(default, rename = "ref")]
    reference: String,
}

/// `GET /ui/`: repositories the visitor may browse.
pub async fn repositories(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(&req)?;
    let registry = registry(&req);
    let counts = registry
        .component_counts()
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    let mut rows = Vec::new();
    for config in registry.repository_configs() {
        if !viewer.may(&req, &config, Action::Browse) {
            continue;
        }
        let size = match config.kind.stores_content() {
            true => Some(registry.repository_usage(&config.name).await?.0),
            false => None,
        };
        let components = counts.iter().find(|c| c.0 == config.name).map(|c| c.1);
        rows.push(context! {
            name => config.name, kind => kind_name(config.kind), blob_store => config.blob_store,
            port => config.http_port, online => config.online, size => size,
            components => components,
            remote => config.proxy.as_ref().map(|p| p.remote_url.to_string()),
        });
    }
    if rows.is_empty() && viewer.user.is_none() && viewer.secured {
        return Err(UiError::SignIn);
    }
    page(
        &req,
        &viewer,
        "repositories.html",
        context! { repositories => rows },
    )
}

/// `GET /ui/browse/{repo}?q=&last=`: one page of image names.
pub async fn images(
    req: HttpRequest,
    repo: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(&req)?;
    let registry = registry(&req);
    let (repo, config) = visible(&req, &viewer, &registry, &repo)?;
    let readers = registry.readers(&repo)?;
    let q = query.q.trim();
    let after = match (&query.last, q) {
        (Some(last), _) => Some(last.clone()),
        (None, "") => None,
        (None, q) => Some(just_before(q)),
    };
    let (mut names, mut more) = read::catalog(&readers, after.as_deref(), PAGE).await?;
    if !q.is_empty() {
        let before = names.len();
        names.retain(|n| n.starts_with(q));
        more &= names.len() == before;
    }
    page(
        &req,
        &viewer,
        "images.html",
        context! {
            repo => config.name, images => names, q => q,
            next => more.then(|| names.last().cloned()).flatten(),
        },
    )
}

/// `GET /ui/browse/{repo}/tags?image=&q=&last=`: one page of an image's tags.
pub async fn tags(
    req: HttpRequest,
    repo: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(&req)?;
    let registry = registry(&req);
    let (_, config) = visible(&req, &viewer, &registry, &repo)?;
    let image = image_name(&query.image)?;
    let q = query.q.trim();
    let after = match (&query.last, q) {
        (Some(last), _) => last.clone(),
        (None, "") => String::new(),
        (None, q) => just_before(q),
    };
    let listing = registry
        .tag_page(&config.name, image.as_str(), &after, PAGE)
        .await?
        .ok_or_else(|| UiError::NotFound("no such repository".into()))?;
    let mut rows = Vec::new();
    let mut more = listing.more;
    for (hosted, row) in listing.rows {
        if !row.tag.starts_with(q) {
            more = false;
            break;
        }
        let platforms = platforms(
            &registry,
            &hosted,
            &row.digest,
            Some(row.media_type.as_str()),
        )
        .await;
        rows.push(context! {
            tag => row.tag, digest => row.digest, size => row.size,
            media_type => row.media_type, pushed => time(row.updated_at),
            pushed_by => row.pushed_by, last_pulled => row.last_downloaded.map(time),
            platforms => platforms,
        });
    }
    let next = more
        .then(|| rows.last().map(|r| r.get_attr("tag").ok()))
        .flatten()
        .flatten()
        .map(|v| v.to_string());
    page(
        &req,
        &viewer,
        "tags.html",
        context! {
            repo => config.name, image => image.as_str(), tags => rows, q => q, next => next,
            may_delete => viewer.may(&req, &config, Action::Delete) && config.kind == RepositoryKind::Hosted,
            csrf => viewer.csrf,
        },
    )
}

/// `GET /ui/browse/{repo}/manifest?image=&ref=`: what a manifest holds and how to pull it.
pub async fn manifest(
    req: HttpRequest,
    repo: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(&req)?;
    let registry = registry(&req);
    let (repo, config) = visible(&req, &viewer, &registry, &repo)?;
    let image = image_name(&query.image)?;
    let reference = Reference::parse(&query.reference)
        .map_err(|e| UiError::BadRequest(format!("reference: {e}")))?;
    let readers = registry.readers(&repo)?;
    let (hosted, digest, media_type) = resolve(&readers, &image, &reference)
        .await?
        .ok_or_else(|| UiError::NotFound("no such tag or manifest".into()))?;
    let bytes = hosted.manifest_bytes(&digest).await?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    // The page shows the first referrers only; the API pages through the rest.
    let referrers = read::referrers(&readers, &image, &digest, None, None, REFERRERS_SHOWN).await?;
    let referrers: Vec<Value> = referrers
        .into_iter()
        .map(|r| {
            let d = &r.record;
            context! { digest => d.digest.to_string(), artifact_type => d.artifact_type, size => d.size, media_type => d.media_type }
        })
        .collect();
    // Which children of an index this repository holds: a sparse index (the
    // `sparse_manifests` setting) lists platforms that were never pushed.
    let present = registry
        .index_children(hosted.name(), image.as_str(), digest.as_str())
        .await?;
    let manifests: Option<Vec<Value>> = body["manifests"].as_array().map(|children| {
        children
            .iter()
            .map(|m| {
                let held = present
                    .iter()
                    .any(|c| c.present && m["digest"].as_str() == Some(c.digest.as_str()));
                context! {
                    digest => m["digest"].as_str(), size => m["size"].as_u64(),
                    platform => Value::from_serialize(&m["platform"]), present => held,
                }
            })
            .collect()
    });
    let suffix = match &reference {
        Reference::Tag(t) => format!(":{}", t.as_str()),
        Reference::Digest(d) => format!("@{d}"),
    };
    page(
        &req,
        &viewer,
        "manifest.html",
        context! {
            repo => config.name, image => image.as_str(), reference => query.reference,
            digest => digest.as_str(), media_type => media_type, size => bytes.len(),
            config => body.get("config").cloned(), layers => body.get("layers").cloned(),
            manifests => manifests, sparse => config.sparse_manifests,
            annotations => body.get("annotations").cloned(),
            subject => body.get("subject").cloned(), referrers => referrers,
            pulls => pull_commands(&req, &registry, &config, image.as_str(), &suffix),
            total => layer_total(&body),
            may_delete => viewer.may(&req, &config, Action::Delete) && config.kind == RepositoryKind::Hosted,
            csrf => viewer.csrf,
        },
    )
}

/// `POST /ui/browse/{repo}/delete` (image, ref, confirm): the API's delete messages.
pub async fn delete(
    req: HttpRequest,
    repo: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    let viewer = Viewer::for_page(&req)?;
    let registry = registry(&req);
    let (repo, config) = visible(&req, &viewer, &registry, &repo)?;
    if !viewer.may(&req, &config, Action::Delete) {
        return Err(match viewer.user {
            None if viewer.secured => UiError::SignIn,
            _ => UiError::Forbidden,
        });
    }
    viewer.check_form(&req, form.csrf())?;
    if !form.checked("confirm") {
        return Err(UiError::BadRequest(
            "Tick the confirmation box to delete.".into(),
        ));
    }
    let name = image_name(form.get("image").unwrap_or_default())?;
    let reference = Reference::parse(form.get("ref").unwrap_or_default())
        .map_err(|e| UiError::BadRequest(format!("reference: {e}")))?;
    let writer = registry
        .writer(&repo)
        .map_err(|e| UiError::BadRequest(e.to_string()))?;
    let result = match reference {
        Reference::Tag(tag) => {
            writer
                .send(DeleteTag {
                    name: name.clone(),
                    tag,
                })
                .await
        }
        Reference::Digest(digest) => {
            writer
                .send(DeleteManifest {
                    name: name.clone(),
                    digest,
                })
                .await
        }
    };
    result.map_err(|e| UiError::BadRequest(e.to_string()))?;
    let back = format!(
        "/ui/browse/{}/tags?image={}",
        config.name,
        urlencode(name.as_str())
    );
    Ok(see_other(&back))
}

/// The repository, if the visitor may browse it (else 404, or sign-in for anonymous).
fn visible(
    req: &HttpRequest,
    viewer: &Viewer,
    registry: &Registry,
    name: &str,
) -> Result<(Repository, RepositoryConfig), UiError> {
    let repo = registry.repository(name);
    let config = repo.as_ref().map(|r| (*r.config()).clone());
    match (repo, config) {
        (Some(repo), Some(config)) if viewer.may(req, &config, Action::Browse) => {
            Ok((repo, config))
        }
        _ if viewer.user.is_none() && viewer.secured => Err(UiError::SignIn),
        _ => Err(UiError::NotFound("no such repository".into())),
    }
}

fn image_name(s: &str) -> Result<ImageName, UiError> {
    ImageName::parse(s).map_err(|e| UiError::BadRequest(format!("image name: {e}")))
}

/// The first reader holding `reference` locally (a proxy's cache included, upstream never
/// asked: browsing must not pull).
async fn resolve(
    readers: &[Hosted],
    name: &ImageName,
    reference: &Reference,
) -> Result<Option<(Hosted, Digest, String)>, UiError> {
    for repo in readers {
        let Some(image) = repo.image(name).await? else {
            continue;
        };
        let digest = match reference {
            Reference::Tag(t) => image.tag(t.as_str()),
            Reference::Digest(d) => Some(d.clone()),
        };
        if let Some(record) = digest.and_then(|d| image.manifest(&d)) {
            return Ok(Some((
                repo.clone(),
                record.digest.clone(),
                record.media_type.clone(),
            )));
        }
    }
    Ok(None)
}

/// `os/arch` of each child of an index; empty for an image manifest.
async fn platforms(
    registry: &Registry,
    hosted: &str,
    digest: &str,
    media_type: Option<&str>,
) -> Vec<String> {
    let is_index = media_type.is_some_and(|m| m.contains("index") || m.contains("list"));
    let (Some(Repository::Hosted(repo)), Ok(digest), true) =
        (registry.repository(hosted), Digest::parse(digest), is_index)
    else {
        return Vec::new();
    };
    let Ok(bytes) = repo.manifest_bytes(&digest).await else {
        return Vec::new();
    };
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    body["manifests"]
        .as_array()
        .map(|children| {
            children
                .iter()
                .filter_map(|c| {
                    let p = c.get("platform")?;
                    Some(format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn layer_total(body: &serde_json::Value) -> u64 {
    body["layers"]
        .as_array()
        .map(|l| l.iter().filter_map(|d| d["size"].as_u64()).sum())
        .unwrap_or(0)
}

/// `docker pull` for each way this repository answers: its connector port, path routing
/// on the main port, and plain names when it is the default repository.
fn pull_commands(
    req: &HttpRequest,
    registry: &Registry,
    config: &RepositoryConfig,
    image: &str,
    suffix: &str,
) -> Vec<Value> {
    // Forwarded host only from a trusted proxy: an admin must not be shown a command that
    // pulls from a host an untrusted client named.
    let origin = Origin::of(req);
    let (host, hostname) = (&origin.host, origin.hostname());
    let mut out = Vec::new();
    if let Some(port) = config.http_port {
        out.push(context! { label => "Connector port", command => format!("docker pull {hostname}:{port}/{image}{suffix}") });
    }
    out.push(context! { label => "Path routing", command => format!("docker pull {host}/repository/{}/{image}{suffix}", config.name) });
    if registry.default_repository_name() == config.name {
        out.push(context! { label => "Default repository", command => format!("docker pull {host}/{image}{suffix}") });
    }
    out
}

pub fn kind_name(kind: RepositoryKind) -> &'static str {
    match kind {
        RepositoryKind::Hosted => "hosted",
        RepositoryKind::Proxy => "proxy",
        RepositoryKind::Group => "group",
    }
}

/// A string that sorts just before `s` and before everything that starts with `s` (names
/// and tags are ASCII and contain no `~`), so "after it" lists `s` and what follows.
fn just_before(s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    match bytes.pop() {
        Some(last) => {
            bytes.push(last.saturating_sub(1));
            let mut out = String::from_utf8_lossy(&bytes).into_owned();
            out.push_str(&"~".repeat(256));
            out
        }
        None => String::new(),
    }
}

fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn just_before_sorts_before_the_prefix_and_after_smaller_names() {
        let b = just_before("app");
        assert!(b.as_str() < "app" && b.as_str() < "app/x" && b.as_str() > "apo");
        assert!(b.as_str() > "apo/zzzz");
    }
}
