use std::path::PathBuf;

use berth::config::{CliOverrides, Settings};
use berth::startup::Application;
use clap::{Parser, Subcommand};

mod warm_cli;

/// Berth: a container image registry.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, global = true, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    /// Address of the main port, e.g. 0.0.0.0:8081.
    #[arg(long, global = true)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry (the default).
    Serve,
    /// Print the effective configuration.
    Config,
    /// Collect garbage in a blob store now, on the running server, and print the report.
    Gc {
        /// The blob store.
        #[arg(long, default_value = "default")]
        store: String,
    },
    /// Run a task (`/service/rest/v1/tasks`) now on the running server and print it.
    Task {
        /// The task id, e.g. `repository.docker.upload-purge`.
        id: String,
    },
    /// Pre-warm a proxy (or group) on the running server with a list of images.
    Warm(warm_cli::WarmArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let overrides = CliOverrides {
        listen: cli.listen,
        data_dir: cli.data_dir,
    };
    let settings = Settings::load(cli.config.as_deref(), &overrides)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Config => print!("{}", settings.to_toml()?),
        Command::Gc { store } => run_task(&settings, &format!("blobstore.compact-{store}"))?,
        Command::Task { id } => run_task(&settings, &id)?,
        Command::Warm(args) => warm_cli::run(settings.listen, &args)?,
        Command::Serve => {
            berth::telemetry::init(&settings.log);
            match berth::process::raise_nofile_limit() {
                Ok((before, after)) => tracing::info!(before, after, "open file limit"),
                Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
            }
            actix_web::rt::System::new().block_on(async {
                Application::build(settings)
                    .await?
                    .run_until_stopped()
                    .await
            })?;
        }
    }
    Ok(())
}

/// Runs a task on the server this configuration describes; fails if the run failed.
fn run_task(settings: &Settings, id: &str) -> anyhow::Result<()> {
    let timeout = std::time::Duration::from_secs(24 * 3600);
    let task = berth::admin_client::run_task(settings.listen, id, timeout)?;
    println!("{}", serde_json::to_string_pretty(&task)?);
    if task["lastRunResult"] != "OK" {
        anyhow::bail!("task {id} failed");
    }
    Ok(())
}
