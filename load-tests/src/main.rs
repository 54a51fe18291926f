//! `berth-load`: a load generator for any OCI/Docker registry (Berth, Distribution, Nexus,
//! Harbor…). It seeds deterministic images, then runs CI-shaped storms (pulls as `docker pull`
//! does them, warm manifest checks, pushes, one big push, pulls during pushes), verifies every
//! pulled byte against its digest, and prints requests/s, MB/s, p50/p95/p99 and errors per
//! operation (`--json FILE` writes the same as JSON). Exit status 1 if any request failed.

mod client;
mod content;
mod image;
mod ops;
mod scenarios;
mod stats;
mod tags;

use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use client::Target;
use content::{parse_size, parse_sizes};

/// A comma-separated list of sizes as one argument.
#[derive(Clone, Debug)]
struct Sizes(Vec<u64>);

fn sizes(s: &str) -> Result<Sizes, String> {
    parse_sizes(s).map(Sizes)
}
use image::Image;
use ops::Mode;
use scenarios::{ManifestMethod, Plan, PushJob, Seeded};
use stats::Stats;

#[derive(Parser)]
#[command(
    name = "berth-load",
    version,
    about = "Load generator for container registries"
)]
struct Cli {
    /// Registry base URL.
    #[arg(
        long,
        env = "BERTH_LOAD_URL",
        default_value = "http://127.0.0.1:5000",
        global = true
    )]
    url: String,
    /// User for Basic auth and the token realm.
    #[arg(long, env = "BERTH_LOAD_USER", global = true)]
    user: Option<String>,
    /// Password (prefer the environment variable: it stays out of `ps`).
    #[arg(
        long,
        env = "BERTH_LOAD_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    password: Option<String>,
    /// Send Basic credentials with every request from the first one (as `curl -u` does),
    /// instead of waiting for a challenge that may ask for a token.
    #[arg(long, global = true, requires = "user")]
    basic: bool,
    /// Accept any TLS certificate.
    #[arg(long, global = true)]
    insecure: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, global = true)]
    json: Option<std::path::PathBuf>,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 5, global = true)]
    progress: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push the deterministic image (skipped if the tag already resolves to it).
    Seed(ImageArgs),
    /// N clients each pulling the seeded image as `docker pull` does.
    PullStorm {
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        plan: PlanArgs,
        /// Count bytes without hashing them (measures the registry, not the verifier).
        #[arg(long)]
        no_verify: bool,
    },
    /// N clients asking for the manifest by tag (HEAD and/or GET): a warm CI cache.
    ManifestStorm {
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        plan: PlanArgs,
        #[arg(long, value_enum, default_value = "get")]
        method: ManifestMethod,
    },
    /// N clients pushing distinct images (or only blobs).
    PushStorm {
        #[command(flatten)]
        push: PushArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// One big blob pushed by one client, monolithic and/or chunked.
    BigPush {
        #[arg(long, default_value = "512M", value_parser = parse_size)]
        size: u64,
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        #[arg(long, default_value = "16M", value_parser = parse_size)]
        chunk_size: u64,
        #[arg(long, default_value = "load/big")]
        repo: String,
        /// Content seed (default: time-based, so every run pushes new bytes).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Many repositories × many tags of tiny distinct manifests (the million-tag scenario:
    /// `--repos 100 --tags 10000`), pushed by many clients at once.
    SeedTags {
        #[arg(long, default_value = "tags/r")]
        prefix: String,
        #[arg(long, default_value_t = 100)]
        repos: u64,
        #[arg(long, default_value_t = 10_000)]
        tags: u64,
        #[arg(long, default_value_t = 32)]
        clients: usize,
    },
    /// Pull storm while a push storm runs.
    Mixed {
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        push: PushArgs,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 8)]
        pull_clients: usize,
        #[arg(long, default_value_t = 4)]
        push_clients: usize,
    },
}

#[derive(Args, Clone)]
struct ImageArgs {
    #[arg(long, default_value = "load/app")]
    repo: String,
    #[arg(long, default_value = "v1")]
    tag: String,
    /// Content seed: the same seed and layers give the same image.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Layer sizes, comma-separated (binary units).
    #[arg(long, default_value = "4K,32K,256K,1M,4M,8M,16M,64M", value_parser = sizes)]
    layers: Sizes,
}

#[derive(Args, Clone)]
struct PlanArgs {
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Stop after this long (e.g. 10s, 2m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many jobs in total (pulls, requests, pushes).
    #[arg(long)]
    count: Option<u64>,
}

#[derive(Args, Clone)]
struct PushArgs {
    #[arg(long, default_value = "load/push")]
    repo_prefix: String,
    /// Layer sizes of each pushed image.
    #[arg(long = "push-layers", default_value = "4K,256K,1M", value_parser = sizes)]
    push_layers: Sizes,
    #[arg(long, value_enum, default_value = "monolithic")]
    mode: Mode,
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    chunk_size: u64,
    /// Push only the layer blobs (no config, no manifest).
    #[arg(long)]
    blobs_only: bool,
    /// Content seed (default: time-based, so every run pushes new bytes).
    #[arg(long = "push-seed")]
    push_seed: Option<u64>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    Ok(Duration::from_secs_f64(n * mult))
}

fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

impl PlanArgs {
    /// The plan, with `default` as the duration when neither limit is given.
    fn plan(&self, default: Duration) -> Plan {
        let duration = match (self.duration, self.count) {
            (None, None) => Some(default),
            (d, _) => d,
        };
        Plan {
            clients: self.clients,
            duration,
            count: self.count,
        }
    }
}

impl PushArgs {
    fn job(&self) -> PushJob {
        PushJob {
            repo_prefix: self.repo_prefix.clone(),
            seed: self.push_seed.unwrap_or_else(time_seed),
            layers: self.push_layers.0.clone(),
            mode: self.mode,
            chunk: self.chunk_size as usize,
            blobs_only: self.blobs_only,
        }
    }
}

fn seeded(a: &ImageArgs) -> Seeded {
    Seeded {
        repo: a.repo.clone(),
        tag: a.tag.clone(),
        image: Image::new(a.seed, 0, &a.layers.0),
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("berth-load: {e}");
            std::process::exit(2);
        }
    }
}

/// Runs the command; the number of failed requests, or why it could not run at all.
async fn run(cli: Cli) -> Result<u64, String> {
    let conns = match &cli.command {
        Command::PullStorm { plan, .. }
        | Command::ManifestStorm { plan, .. }
        | Command::PushStorm { plan, .. } => plan.clients,
        Command::SeedTags { clients, .. } => *clients,
        Command::Mixed {
            pull_clients,
            push_clients,
            ..
        } => pull_clients + push_clients,
        _ => 1,
    };
    let target = Target::new(
        &cli.url,
        cli.user.clone(),
        cli.password.clone(),
        cli.insecure,
        conns,
    )?
    .with_preemptive_basic(cli.basic);
    let stats = Stats::new();
    let _progress = (cli.progress > 0).then(|| {
        stats.progress(
            scenario_name(&cli.command).into(),
            Duration::from_secs(cli.progress),
        )
    });
    let started;
    let params;
    match &cli.command {
        Command::Seed(a) => {
            let s = seeded(a);
            started = Instant::now();
            let pushed = scenarios::seed(&target, &s, &stats).await?;
            eprintln!(
                "{}:{} = {} ({})",
                s.repo,
                s.tag,
                s.image.manifest_digest,
                if pushed { "pushed" } else { "already there" }
            );
            params = json!({"repo": a.repo, "tag": a.tag, "seed": a.seed, "layers": a.layers.0, "manifest_digest": s.image.manifest_digest, "pushed": pushed});
        }
        Command::PullStorm {
            image,
            plan,
            no_verify,
        } => {
            let s = seeded(image);
            scenarios::seed(&target, &s, &Stats::new()).await?;
            let p = plan.plan(Duration::from_secs(10));
            started = Instant::now();
            scenarios::pull_storm(&target, &s, p, !no_verify, &stats).await;
            params = json!({"repo": image.repo, "tag": image.tag, "layers": image.layers.0, "image_bytes": s.image.total_bytes(), "clients": p.clients, "duration_s": p.duration.map(|d| d.as_secs_f64()), "count": p.count, "verify": !no_verify});
        }
        Command::ManifestStorm {
            image,
            plan,
            method,
        } => {
            let s = seeded(image);
            scenarios::seed(&target, &s, &Stats::new()).await?;
            let p = plan.plan(Duration::from_secs(10));
            started = Instant::now();
            scenarios::manifest_storm(&target, &s, p, *method, &stats).await;
            params = json!({"repo": image.repo, "tag": image.tag, "clients": p.clients, "method": format!("{method:?}").to_lowercase(), "duration_s": p.duration.map(|d| d.as_secs_f64()), "count": p.count});
        }
        Command::PushStorm { push, plan } => {
            let p = plan.plan(Duration::from_secs(10));
            let job = push.job();
            started = Instant::now();
            scenarios::push_storm(&target, job.clone(), p, &stats).await;
            params = json!({"clients": p.clients, "count": p.count, "duration_s": p.duration.map(|d| d.as_secs_f64()), "layers": job.layers, "mode": format!("{:?}", job.mode).to_lowercase(), "chunk_size": job.chunk, "blobs_only": job.blobs_only});
        }
        Command::BigPush {
            size,
            mode,
            chunk_size,
            repo,
            seed,
        } => {
            let seed = seed.unwrap_or_else(time_seed);
            let modes = mode
                .map(|m| vec![m])
                .unwrap_or_else(|| vec![Mode::Monolithic, Mode::Chunked]);
            started = Instant::now();
            for m in &modes {
                scenarios::big_push(&target, repo, seed, *size, *m, *chunk_size as usize, &stats)
                    .await;
            }
            params = json!({"size": size, "chunk_size": chunk_size, "modes": modes.iter().map(|m| format!("{m:?}").to_lowercase()).collect::<Vec<_>>()});
        }
        Command::SeedTags {
            prefix,
            repos,
            tags,
            clients,
        } => {
            let plan = tags::TagPlan {
                prefix: prefix.clone(),
                repos: *repos,
                tags: *tags,
                clients: *clients,
            };
            started = Instant::now();
            let total = tags::seed_tags(&target, &plan, &stats).await?;
            params = json!({"prefix": prefix, "repos": repos, "tags": tags, "clients": clients, "manifests": total});
        }
        Command::Mixed {
            image,
            push,
            duration,
            pull_clients,
            push_clients,
        } => {
            let s = seeded(image);
            scenarios::seed(&target, &s, &Stats::new()).await?;
            let pulls = Plan {
                clients: *pull_clients,
                duration: Some(*duration),
                count: None,
            };
            let pushes = Plan {
                clients: *push_clients,
                duration: Some(*duration),
                count: None,
            };
            let job = push.job();
            started = Instant::now();
            scenarios::mixed(&target, &s, pulls, job.clone(), pushes, &stats).await;
            params = json!({"pull_clients": pull_clients, "push_clients": push_clients, "duration_s": duration.as_secs_f64(), "layers": image.layers.0, "push_layers": job.layers, "mode": format!("{:?}", job.mode).to_lowercase()});
        }
    }
    let report = scenarios::report(&stats, scenario_name(&cli.command), started, params);
    report.print_table();
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&report.to_json()).expect("report json");
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(report.errors)
}

fn scenario_name(c: &Command) -> &'static str {
    match c {
        Command::Seed(_) => "seed",
        Command::PullStorm { .. } => "pull-storm",
        Command::ManifestStorm { .. } => "manifest-storm",
        Command::PushStorm { .. } => "push-storm",
        Command::BigPush { .. } => "big-push",
        Command::SeedTags { .. } => "seed-tags",
        Command::Mixed { .. } => "mixed",
    }
}
