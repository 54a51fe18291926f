//! `seed-tags`: many repositories with many tags each, fast (the million-tag scenario:
//! 100 × 10,000). Each repository gets one tiny config and one tiny layer (the same bytes
//! everywhere, so the store holds them once), then one distinct tiny manifest per tag
//! (an annotation names it), pushed by many clients at once, spread across a window of
//! [`WINDOW`] repositories at a time: enough writers in parallel, while the images being
//! filled stay few enough to fit Berth's image cache (spreading over all 100 made every
//! push reload an evicted 10,000-tag image: 1,089 evictions and ~10 pushes/s).

use std::time::Instant;

use bytes::Bytes;
use reqwest::{Method, StatusCode};

use crate::client::{Session, Target};
use crate::image::{Image, MANIFEST_TYPE};
use crate::ops::{self, push_scope, Mode};
use crate::scenarios::{drive, Plan};
use crate::stats::Stats;

/// What to seed.
#[derive(Clone)]
pub struct TagPlan {
    pub prefix: String,
    pub repos: u64,
    pub tags: u64,
    pub clients: usize,
}

impl TagPlan {
    /// Repository number `r`.
    pub fn repo(&self, r: u64) -> String {
        format!("{}{r:03}", self.prefix)
    }
}

/// Repositories filled at the same time.
pub const WINDOW: u64 = 8;

/// Tag number `t`, zero-padded so lexical order is numeric order.
pub fn tag(t: u64) -> String {
    format!("t{t:05}")
}

/// The manifest of `repo:tag`: the shared config and layer, and an annotation that makes
/// its digest unique.
fn manifest(base: &serde_json::Value, repo: &str, tag: &str) -> Bytes {
    let mut m = base.clone();
    m["annotations"] = serde_json::json!({ "berth-load.tag": format!("{repo}:{tag}") });
    Bytes::from(serde_json::to_vec(&m).expect("manifest json"))
}

/// Pushes the blobs into every repository, then every tag's manifest. Returns the number
/// of manifests pushed.
pub async fn seed_tags(target: &Target, plan: &TagPlan, stats: &Stats) -> Result<u64, String> {
    let image = Image::new(7, 0, &[256]);
    let base: serde_json::Value = serde_json::from_slice(&image.manifest).expect("manifest json");
    let blobs = Plan {
        clients: plan.clients.min(plan.repos as usize),
        duration: None,
        count: Some(plan.repos),
    };
    let (t, s, p, img) = (target.clone(), stats.clone(), plan.clone(), image.clone());
    drive(blobs, move |_, r| {
        let (t, s, repo, img) = (t.clone(), s.clone(), p.repo(r), img.clone());
        async move {
            let mut session = Session::new(&t);
            let pushed = async {
                ops::push_bytes(&mut session, &s, &repo, &img.config, &img.config_digest).await?;
                ops::push_blob(
                    &mut session,
                    &s,
                    "blob-push",
                    &repo,
                    &img.layers[0],
                    Mode::Monolithic,
                    1 << 20,
                )
                .await
            };
            if let Err(e) = pushed.await {
                s.error("blob-push", format!("{repo}: {e}"));
            }
        }
    })
    .await;
    if stats.total_errors() > 0 {
        return Err("pushing the shared blobs failed; see the errors above".into());
    }
    let window = WINDOW.min(plan.repos);
    let windows = plan.repos.div_ceil(window);
    let manifests = Plan {
        clients: plan.clients,
        duration: None,
        count: Some(windows * window * plan.tags),
    };
    let (t, s, p) = (target.clone(), stats.clone(), plan.clone());
    drive(manifests, move |_, n| {
        // Consecutive jobs go round the repositories of one window: each has its own writer.
        let r = n / (window * p.tags) * window + n % window;
        let (repo, tag) = (p.repo(r), tag(n % (window * p.tags) / window));
        let (t, s, base) = (t.clone(), s.clone(), base.clone());
        async move {
            if r >= p.repos {
                return;
            }
            let mut session = Session::new(&t);
            if let Err(e) = put(&mut session, &s, &repo, &tag, manifest(&base, &repo, &tag)).await {
                s.error("manifest-put", format!("{repo}:{tag}: {e}"));
            }
        }
    })
    .await;
    Ok(plan.repos * plan.tags)
}

async fn put(
    s: &mut Session,
    stats: &Stats,
    repo: &str,
    tag: &str,
    body: Bytes,
) -> crate::client::Result<()> {
    let t0 = Instant::now();
    let len = body.len() as u64;
    let resp = s
        .send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{tag}"),
            &push_scope(repo),
            |rb| rb.header("content-type", MANIFEST_TYPE).body(body.clone()),
        )
        .await?;
    if resp.status() != StatusCode::CREATED {
        return Err(crate::client::LoadError(format!(
            "PUT manifest answered {}",
            resp.status()
        )));
    }
    stats.ok("manifest-put", t0.elapsed(), len);
    Ok(())
}
