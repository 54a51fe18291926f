//! The scenarios: each runs clients concurrently against one target and returns a report.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::{Session, Target};
use crate::content::Content;
use crate::image::{Blob, Image};
use crate::ops::{self, Mode, PullTarget};
use crate::stats::{Report, Stats};

/// When clients stop: after `duration`, after `count` jobs in total, or whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub clients: usize,
    pub duration: Option<Duration>,
    pub count: Option<u64>,
}

/// Runs `job(client, n)` on `plan.clients` concurrent clients until the plan says stop.
/// Jobs are numbered across clients, so `count` is a total.
pub async fn drive<F, Fut>(plan: Plan, job: F)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let deadline = plan.duration.map(|d| Instant::now() + d);
    let tasks: Vec<_> = (0..plan.clients.max(1))
        .map(|client| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if plan.count.is_some_and(|c| n >= c) {
                        break;
                    }
                    job(client, n).await;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// The image every pull scenario pulls.
#[derive(Clone)]
pub struct Seeded {
    pub repo: String,
    pub tag: String,
    pub image: Image,
}

/// Pushes the seeded image unless the tag already resolves to it.
pub async fn seed(target: &Target, s: &Seeded, stats: &Stats) -> Result<bool, String> {
    let mut session = Session::new(target);
    let pt = PullTarget {
        repo: s.repo.clone(),
        tag: s.tag.clone(),
        expect: Some(s.image.manifest_digest.clone()),
        verify: true,
    };
    if ops::head_manifest(&mut session, &Stats::new(), &pt)
        .await
        .is_ok()
    {
        return Ok(false);
    }
    ops::push_image(
        &mut session,
        stats,
        &s.repo,
        &s.tag,
        &s.image,
        Mode::Monolithic,
        8 << 20,
    )
    .await
    .map_err(|e| format!("seeding {}:{}: {e}", s.repo, s.tag))?;
    Ok(true)
}

pub async fn pull_storm(target: &Target, s: &Seeded, plan: Plan, verify: bool, stats: &Stats) {
    let pt = PullTarget {
        repo: s.repo.clone(),
        tag: s.tag.clone(),
        expect: Some(s.image.manifest_digest.clone()),
        verify,
    };
    let (target, stats) = (target.clone(), stats.clone());
    drive(plan, move |_, _| {
        let (target, stats, pt) = (target.clone(), stats.clone(), pt.clone());
        async move {
            // A fresh session per pull: every `docker pull` in CI starts without a token.
            let mut session = Session::new(&target);
            if let Err(e) = ops::pull(&mut session, &stats, &pt).await {
                stats.error("pull", e.0);
            }
        }
    })
    .await;
}

/// How the manifest storm asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestMethod {
    Get,
    Head,
    /// Alternate HEAD and GET.
    Both,
}

pub async fn manifest_storm(
    target: &Target,
    s: &Seeded,
    plan: Plan,
    method: ManifestMethod,
    stats: &Stats,
) {
    let pt = PullTarget {
        repo: s.repo.clone(),
        tag: s.tag.clone(),
        expect: Some(s.image.manifest_digest.clone()),
        verify: true,
    };
    // One long-lived session per client, as a CI runner's daemon keeps its connections.
    let sessions: Arc<Vec<tokio::sync::Mutex<Session>>> = Arc::new(
        (0..plan.clients.max(1))
            .map(|_| tokio::sync::Mutex::new(Session::new(target)))
            .collect(),
    );
    let stats = stats.clone();
    drive(plan, move |client, n| {
        let (sessions, stats, pt) = (sessions.clone(), stats.clone(), pt.clone());
        async move {
            let mut session = sessions[client].lock().await;
            let head = match method {
                ManifestMethod::Head => true,
                ManifestMethod::Get => false,
                ManifestMethod::Both => n % 2 == 0,
            };
            let r = if head {
                ops::head_manifest(&mut session, &stats, &pt).await
            } else {
                ops::get_manifest(&mut session, &stats, &pt)
                    .await
                    .map(|_| ())
            };
            if let Err(e) = r {
                stats.error(if head { "manifest-head" } else { "manifest" }, e.0);
            }
        }
    })
    .await;
}

/// What each push-storm job pushes.
#[derive(Clone)]
pub struct PushJob {
    pub repo_prefix: String,
    pub seed: u64,
    pub layers: Vec<u64>,
    pub mode: Mode,
    pub chunk: usize,
    /// Only the layer blobs, no config or manifest (the "2,000 small blobs" figure).
    pub blobs_only: bool,
}

pub async fn push_storm(target: &Target, job: PushJob, plan: Plan, stats: &Stats) {
    let sessions: Arc<Vec<tokio::sync::Mutex<Session>>> = Arc::new(
        (0..plan.clients.max(1))
            .map(|_| tokio::sync::Mutex::new(Session::new(target)))
            .collect(),
    );
    let stats = stats.clone();
    drive(plan, move |client, n| {
        let (sessions, stats, job) = (sessions.clone(), stats.clone(), job.clone());
        async move {
            let mut session = sessions[client].lock().await;
            let repo = format!("{}/c{client}", job.repo_prefix);
            if let Err(e) = push_one(&mut session, &stats, &job, &repo, n).await {
                stats.error("push", e.0);
            }
        }
    })
    .await;
}

async fn push_one(
    s: &mut Session,
    stats: &Stats,
    job: &PushJob,
    repo: &str,
    n: u64,
) -> crate::client::Result<()> {
    if job.blobs_only {
        for (i, &size) in job.layers.iter().enumerate() {
            let content = Content::new(job.seed, n * 1_000 + i as u64, size);
            let blob = Blob {
                digest: content.digest(),
                content,
            };
            ops::push_blob(s, stats, "blob-push", repo, &blob, job.mode, job.chunk).await?;
        }
        return Ok(());
    }
    let image = Image::new(job.seed, n, &job.layers);
    let t = Instant::now();
    ops::push_image(
        s,
        stats,
        repo,
        &format!("j{n}"),
        &image,
        job.mode,
        job.chunk,
    )
    .await?;
    stats.ok("image-push", t.elapsed(), 0);
    Ok(())
}

/// One blob of `size` pushed by one client (`op` names its row).
pub async fn big_push(
    target: &Target,
    repo: &str,
    seed: u64,
    size: u64,
    mode: Mode,
    chunk: usize,
    stats: &Stats,
) {
    let content = Content::new(seed, u64::from(mode == Mode::Chunked), size);
    // Hashed before the clock starts: a monolithic PUT needs its digest up front.
    let blob = Blob {
        digest: content.digest(),
        content,
    };
    let mut s = Session::new(target);
    let op = match mode {
        Mode::Monolithic => "big-push-mono",
        Mode::Chunked => "big-push-chunked",
    };
    if let Err(e) = ops::push_blob(&mut s, stats, op, repo, &blob, mode, chunk).await {
        stats.error(op, e.0);
    }
}

/// Pull storm and push storm at once, for `duration`.
pub async fn mixed(
    target: &Target,
    seeded: &Seeded,
    pulls: Plan,
    job: PushJob,
    pushes: Plan,
    stats: &Stats,
) {
    tokio::join!(
        pull_storm(target, seeded, pulls, true, stats),
        push_storm(target, job, pushes, stats)
    );
}

/// The report of a finished scenario.
pub fn report(
    stats: &Stats,
    scenario: &str,
    started: Instant,
    params: serde_json::Value,
) -> Report {
    stats.report(scenario, started.elapsed(), json!(params))
}
