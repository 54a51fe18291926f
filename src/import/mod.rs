//! `berth import nexus`: moves a Nexus Repository's docker set-up into a running Berth in
//! one command — blob stores, repositories of every kind with their settings, cleanup
//! policies, security (docker privileges, roles, users, realms, anonymous access) through
//! both sides' Nexus-shaped admin REST APIs, then the content of hosted repositories through
//! both sides' registry APIs, byte for byte.
//!
//! # Layout
//! - [`options`]: what a run is asked to do; [`report`]: what it did.
//! - [`rest`] and [`registry`]: clients of the admin REST API and of the registry API.
//! - [`nexus`]: the Nexus documents read; [`mapping`]: Nexus settings → Berth bodies.
//! - [`apply`]: the one create / keep / overwrite rule; [`repositories`], [`security`],
//!   [`users`]: the definitions, in dependency order.
//! - [`plan`]: walks a source repository; [`copier`]: copies it; [`progress`]: the lines.
//!
//! This is a client: it talks HTTP to both servers and imports nothing from Berth's server
//! layers except the protocol vocabulary in `oci`.

pub mod apply;
pub mod cli;
pub mod copier;
pub mod error;
pub mod mapping;
pub mod nexus;
pub mod options;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod report;
pub mod repositories;
pub mod rest;
pub mod security;
pub mod users;

use std::collections::BTreeSet;
use std::time::Duration;

pub use error::ImportError;
pub use options::ImportOptions;
use options::{Endpoint, UserMode};
use report::{Report, RepositoryContent, Throughput, UsersNote};

/// Runs the import (or the dry run) and returns its report.
pub async fn run(options: &ImportOptions) -> Result<Report, ImportError> {
    let progress = progress::Progress::new();
    let source_rest = rest::RestClient::new(http_client(&options.source)?, &options.source);
    let target_rest = rest::RestClient::new(http_client(&options.target)?, &options.target);
    let mut applier = apply::Applier {
        target: &target_rest,
        dry_run: options.dry_run,
        overwrite: options.overwrite,
        items: Vec::new(),
    };
    let stores = repositories::blob_stores(&source_rest, &mut applier).await?;
    let policies = repositories::cleanup_policies(&source_rest, &mut applier).await?;
    let imported = repositories::repositories(
        &source_rest,
        &mut applier,
        &stores,
        &policies,
        &options.repositories,
    )
    .await?;
    let names: BTreeSet<String> = imported.repositories.keys().cloned().collect();
    let privileges = security::privileges(&source_rest, &mut applier, &names).await?;
    let roles = security::roles(&source_rest, &mut applier, &privileges).await?;
    users::users(&source_rest, &mut applier, &roles, &options.users).await?;
    security::realms_and_anonymous(&source_rest, &mut applier).await?;
    let configuration = applier.items;

    let content = copy_content(options, &imported, &progress).await?;
    let elapsed = progress.elapsed().as_secs_f64().max(0.001);
    let bytes_copied: u64 = content.iter().map(|c| c.bytes_copied).sum();
    // Throughput counts images as Docker does: one per tag.
    let images: u64 = content.iter().map(|c| c.tags).sum();
    Ok(Report {
        source: options.source.url.clone(),
        target: options.target.url.clone(),
        dry_run: options.dry_run,
        configuration,
        users: users_note(&options.users),
        content,
        duration_secs: elapsed,
        throughput: Throughput {
            bytes_copied,
            images,
            megabytes_per_sec: bytes_copied as f64 / 1e6 / elapsed,
            images_per_sec: images as f64 / elapsed,
        },
    })
}

/// Plans every hosted repository, then copies them one after the other (all totals known
/// first, so the progress line has an ETA).
async fn copy_content(
    options: &ImportOptions,
    imported: &repositories::Imported,
    progress: &std::sync::Arc<progress::Progress>,
) -> Result<Vec<RepositoryContent>, ImportError> {
    use std::sync::atomic::Ordering::Relaxed;
    let source_http = http_client(&options.source)?;
    let target_http = http_client(&options.target)?;
    let mut plans = Vec::new();
    for name in &imported.hosted {
        let source = registry::RegistryClient::new(source_http.clone(), &options.source, name);
        eprintln!("import: reading the content of {name} on the source");
        let plan = plan::plan_repository(&source, name, options.concurrency).await?;
        progress.repositories_total.fetch_add(1, Relaxed);
        progress
            .images_total
            .fetch_add(plan.images.len() as u64, Relaxed);
        progress
            .blobs_total
            .fetch_add(plan.blobs.len() as u64, Relaxed);
        progress.bytes_total.fetch_add(plan.bytes(), Relaxed);
        plans.push((source, plan));
    }
    let mut content = Vec::new();
    if options.dry_run {
        for (_, plan) in &plans {
            content.push(RepositoryContent {
                name: plan.name.clone(),
                images: plan.images.len() as u64,
                tags: plan.tags(),
                manifests: plan.manifests,
                blobs: plan.blobs.len() as u64,
                bytes: plan.bytes(),
                errors: plan.errors.clone(),
                ..RepositoryContent::default()
            });
        }
        return Ok(content);
    }
    let printer = progress.spawn_printer(options.progress_every);
    for (source, plan) in &plans {
        let target =
            registry::RegistryClient::new(target_http.clone(), &options.target, &plan.name);
        let copier = copier::Copier::new(source, &target, progress.clone(), options.concurrency);
        content.push(copier.copy(plan).await);
        progress.repositories_done.fetch_add(1, Relaxed);
    }
    drop(printer);
    if options.warm_proxies {
        for name in &imported.proxies {
            let source = registry::RegistryClient::new(source_http.clone(), &options.source, name);
            let target = registry::RegistryClient::new(target_http.clone(), &options.target, name);
            let plan = plan::plan_repository(&source, name, options.concurrency).await?;
            let errors = copier::warm(&plan, &target).await;
            eprintln!(
                "import: warmed proxy {name}: {} tags, {} errors",
                plan.tags(),
                errors.len()
            );
        }
    }
    Ok(content)
}

fn users_note(mode: &UserMode) -> UsersNote {
    match mode {
        UserMode::RandomPassword(file) => UsersNote {
            mode: "randomPassword",
            password_file: Some(file.display().to_string()),
        },
        UserMode::Disabled => UsersNote {
            mode: "disabled",
            password_file: None,
        },
    }
}

/// An HTTP client for one side: rustls, the side's CA if given, bounded connects and reads
/// (a stalled server fails the call; a long blob does not).
fn http_client(endpoint: &Endpoint) -> Result<reqwest::Client, ImportError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("berth-import/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(300));
    if let Some(path) = &endpoint.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| ImportError::Io(format!("CA certificate {}: {e}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| ImportError::Io(format!("CA certificate {}: {e}", path.display())))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| ImportError::Io(format!("cannot build an HTTP client: {e}")))
}
