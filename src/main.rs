use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use berth::admin_client::{tasks, AdminClient, AdminConnection};
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
        /// Print the task as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: AdminConnection,
    },
    /// Run a task (`/service/rest/v1/tasks`) now on the running server and print it.
    Task {
        /// The task id, e.g. `repository.docker.upload-purge`.
        id: String,
        /// Print the task as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: AdminConnection,
    },
    /// Exit 0 if the server answers `GET /service/rest/v1/status` with 200 (Docker
    /// HEALTHCHECK, load balancers), 1 otherwise.
    Health {
        #[command(flatten)]
        server: AdminConnection,
    },
    /// Offline administration of a stopped server's data directory.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Pre-warm a proxy (or group) on the running server with a list of images.
    Warm(warm_cli::WarmArgs),
    /// Import another repository manager's set-up and images into the running server.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give a user (default `admin`) a new random password, written to a 0600 file. The
    /// server must be stopped.
    ResetPassword {
        #[arg(long, default_value = "admin")]
        user: String,
        /// Where to write the password (default `<data_dir>/admin.password` for admin,
        /// `<data_dir>/<user>.password` otherwise).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportFrom {
    /// Nexus Repository 3: blob stores, docker repositories, cleanup policies, security, images.
    Nexus(Box<berth::import::cli::NexusArgs>),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints the cause chain on one line, never a Debug backtrace.
            eprintln!("berth: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = CliOverrides {
        listen: cli.listen,
        data_dir: cli.data_dir,
    };
    let (settings, warnings) = Settings::load_with_warnings(cli.config.as_deref(), &overrides)?;
    let week = Duration::from_secs(7 * 24 * 3600);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Config => print!("{}", settings.to_toml()?),
        Command::Gc {
            store,
            json,
            server,
        } => {
            return run_task(
                &settings,
                &server,
                &format!("blobstore.compact-{store}"),
                json,
                week,
            )
        }
        Command::Task { id, json, server } => return run_task(&settings, &server, &id, json, week),
        Command::Health { server } => return health(&settings, &server),
        Command::Warm(args) => warm_cli::run(&settings, &args)?,
        Command::Admin(AdminCommand::ResetPassword { user, output }) => {
            let path = actix_web::rt::System::new()
                .block_on(berth::auth::reset::reset_password(&settings, &user, output))?;
            println!("new password for {user} written to {}", path.display());
        }
        Command::Import {
            from: ImportFrom::Nexus(args),
        } => {
            let code = berth::import::cli::run(&args, &settings)?;
            return Ok(ExitCode::from(code as u8));
        }
        Command::Serve => {
            berth::telemetry::init(&settings.log);
            for w in warnings {
                tracing::warn!("{w}");
            }
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
    Ok(ExitCode::SUCCESS)
}

/// Runs a task on the server; a progress line on stderr, a summary (or JSON) on stdout;
/// fails if the run failed.
fn run_task(
    settings: &Settings,
    server: &AdminConnection,
    id: &str,
    json: bool,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let client = AdminClient::from_options(server, settings)?;
    let task = tasks::run_task(&client, id, timeout, tasks::stderr_progress(id))?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&task)?),
        false => println!("{}", tasks::summary(&task)),
    }
    if task["lastRunResult"] != "OK" {
        anyhow::bail!("task {id} failed");
    }
    Ok(ExitCode::SUCCESS)
}

fn health(settings: &Settings, server: &AdminConnection) -> anyhow::Result<ExitCode> {
    let client = AdminClient::from_options(server, settings)?;
    let reply = client.send(reqwest::Method::GET, "/service/rest/v1/status", None)?;
    match reply.status.is_success() {
        true => println!("healthy: {} answered {}", client.base(), reply.status),
        false => {
            eprintln!("unhealthy: {} answered {}", client.base(), reply.status);
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
