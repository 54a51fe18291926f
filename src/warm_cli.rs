//! `berth warm <proxy-or-group> <image-list-file>`: pre-warms a proxy on the running server
//! through its admin API — creates a `repository.docker.proxy-warm` task with the list, runs
//! it, prints its progress (images, blobs, bytes, rate) while it runs and its report at the
//! end, then deletes the task. The admin connection is `berth::admin_client`'s (loopback).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// What `berth warm` was asked to do.
#[derive(clap::Args)]
pub struct WarmArgs {
    /// The proxy repository, or a group with proxies among its members.
    pub repository: String,
    /// The image list: `name[:tag|@digest] [os/arch,…]` per line; `#` comments.
    pub file: std::path::PathBuf,
    /// Report what would be downloaded (and its size) without downloading blobs.
    #[arg(long)]
    pub dry_run: bool,
    /// Blob downloads at once (1 to 32).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Platforms taken from an index when a line names none, e.g. `linux/amd64,linux/arm64`
    /// (default: all).
    #[arg(long)]
    pub platform: Option<String>,
}

const TASKS: &str = "/service/rest/v1/tasks";

pub fn run(listen: SocketAddr, args: &WarmArgs) -> anyhow::Result<()> {
    let images = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut properties = json!({
        "repositoryName": args.repository,
        "images": images,
        "dryRun": args.dry_run.to_string(),
        "concurrency": args.concurrency.to_string(),
    });
    if let Some(p) = &args.platform {
        properties["platforms"] = json!(p);
    }
    let template = json!({
        "type": "repository.docker.proxy-warm",
        "name": format!("berth warm {}", args.repository),
        "frequency": {"schedule": "manual"},
        "properties": properties,
    });
    let (status, body) =
        berth::admin_client::call(listen, "POST", TASKS, Some(&template.to_string()))?;
    if status != 201 {
        bail!("the server refused the warm task: {status} {body}");
    }
    let id = serde_json::from_str::<Value>(&body)?["id"]
        .as_str()
        .context("task id")?
        .to_string();
    let outcome = follow(listen, &id);
    let _ = berth::admin_client::call(listen, "DELETE", &format!("{TASKS}/{id}"), None);
    let report = outcome?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let errors = report["errors"].as_array().map_or(0, Vec::len);
    if errors > 0 {
        bail!("{errors} image(s) or blob(s) could not be warmed");
    }
    Ok(())
}

/// Runs task `id`, printing progress lines to stderr; returns its report.
fn follow(listen: SocketAddr, id: &str) -> anyhow::Result<Value> {
    let (status, body) =
        berth::admin_client::call(listen, "POST", &format!("{TASKS}/{id}/run"), None)?;
    if status != 204 {
        bail!("the server refused to run the warm task: {status} {body}");
    }
    let mut last = String::new();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let (status, body) =
            berth::admin_client::call(listen, "GET", &format!("{TASKS}/{id}"), None)?;
        if status != 200 {
            bail!("reading the warm task: {status} {body}");
        }
        let task: Value = serde_json::from_str(&body)?;
        if let Some(p) = task.get("berthProgress") {
            let line = progress_line(p);
            if line != last {
                eprintln!("{line}");
                last = line;
            }
        }
        if task["currentState"] == "WAITING" {
            if task["lastRunResult"] != "OK" {
                bail!("warm failed: {}", task["lastRunReport"]);
            }
            let report = task["lastRunReport"].clone();
            eprintln!("{}", progress_line(&report));
            return Ok(report);
        }
    }
}

fn progress_line(p: &Value) -> String {
    format!(
        "images {}/{}  blobs {}/{} ({} cached before)  {:.1} MiB  {:.1} MiB/s",
        p["imagesDone"],
        p["images"],
        p["blobsFetched"].as_u64().unwrap_or(0) + p["blobsCachedBefore"].as_u64().unwrap_or(0),
        p["blobs"],
        p["blobsCachedBefore"],
        p["bytesFetched"].as_f64().unwrap_or(0.0) / 1048576.0,
        p["bytesPerSec"].as_f64().unwrap_or(0.0) / 1048576.0,
    )
}
