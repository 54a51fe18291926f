//! The command line of `berth import nexus`: options → [`ImportOptions`], then the run,
//! the report on stdout (text, or JSON with `--json`) and optionally to a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::options::{Endpoint, ImportOptions, Secret, UserMode};
use super::ImportError;
use crate::admin_client::AdminConnection;
use crate::config::Settings;

/// Environment variable with the source Nexus password (never a command-line argument:
/// argv is visible to every user of the machine).
pub const NEXUS_PASSWORD_ENV: &str = "NEXUS_PASSWORD";

/// `berth import nexus` options.
#[derive(Clone, Debug, clap::Args)]
pub struct NexusArgs {
    /// Base URL of the Nexus server, e.g. https://nexus.example:8081.
    #[arg(long)]
    pub url: String,
    /// Nexus user (an administrator); its password comes from NEXUS_PASSWORD or --password-file.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// File whose first line is the Nexus password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https Nexus URL.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// Base URL of the target Berth (default: the configured listen address on this host).
    #[arg(long)]
    pub target: Option<String>,
    /// Berth admin user (needed with security on; default admin). Its password comes from
    /// BERTH_ADMIN_PASSWORD or --target-password-file.
    #[arg(long)]
    pub target_user: Option<String>,
    /// File whose first line is the Berth admin password (default for admin on this host:
    /// <data_dir>/admin.password).
    #[arg(long)]
    pub target_password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https target URL.
    #[arg(long)]
    pub target_ca_cert: Option<PathBuf>,
    /// Print what would be created and copied (counts and bytes per repository); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace definitions that exist on the target with other settings (default: keep them).
    #[arg(long)]
    pub overwrite: bool,
    /// Create users disabled instead of with random passwords.
    #[arg(long)]
    pub disable_users: bool,
    /// Where the random passwords of new users are written (mode 0600).
    #[arg(long, default_value = "nexus-import-passwords.txt")]
    pub passwords_file: PathBuf,
    /// Blob transfers (and images) in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Pull what each Nexus proxy has cached through Berth's proxy, so its cache starts warm.
    #[arg(long)]
    pub warm_proxies: bool,
    /// Import only this repository (repeatable; default: every docker repository).
    #[arg(long = "repository")]
    pub repositories: Vec<String>,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Seconds between progress lines (on stderr).
    #[arg(long, default_value_t = 5)]
    pub progress_secs: u64,
}

impl NexusArgs {
    /// Resolves credentials and URLs.
    pub fn options(&self, settings: &Settings) -> Result<ImportOptions, ImportError> {
        let source_password = match &self.password_file {
            Some(path) => Some(read_password(path)?),
            None => std::env::var(NEXUS_PASSWORD_ENV)
                .ok()
                .filter(|p| !p.is_empty()),
        };
        let source_credentials = match (&self.user, source_password) {
            (Some(user), Some(p)) => Some((user.clone(), Secret::new(p))),
            (Some(user), None) => {
                return Err(ImportError::Io(format!(
                    "no password for Nexus user {user}: set {NEXUS_PASSWORD_ENV} or pass --password-file"
                )))
            }
            (None, _) => None,
        };
        Ok(ImportOptions {
            source: Endpoint {
                label: "source Nexus".into(),
                url: self.url.trim_end_matches('/').to_string(),
                credentials: source_credentials,
                ca_cert: self.ca_cert.clone(),
            },
            target: Endpoint {
                label: "target Berth".into(),
                url: self.target_url(settings),
                credentials: self.target_credentials(settings)?,
                ca_cert: self.target_ca_cert.clone(),
            },
            dry_run: self.dry_run,
            overwrite: self.overwrite,
            users: if self.disable_users {
                UserMode::Disabled
            } else {
                UserMode::RandomPassword(self.passwords_file.clone())
            },
            concurrency: self.concurrency.max(1),
            warm_proxies: self.warm_proxies,
            repositories: self.repositories.clone(),
            progress_every: Duration::from_secs(self.progress_secs.max(1)),
        })
    }

    /// The target as the other admin subcommands reach a server (`admin_client`): the same
    /// URL default, `BERTH_ADMIN_PASSWORD`, and the bootstrap password file for `admin`.
    /// The flags carry a `target-` prefix because `--url` names the Nexus here.
    fn target_connection(&self) -> AdminConnection {
        AdminConnection {
            url: self.target.clone(),
            user: self.target_user.clone(),
            password_file: self.target_password_file.clone(),
            ca_cert: self.target_ca_cert.clone(),
        }
    }

    fn target_url(&self, settings: &Settings) -> String {
        self.target_connection().base_url(settings)
    }

    fn target_credentials(
        &self,
        settings: &Settings,
    ) -> Result<Option<(String, Secret)>, ImportError> {
        let credentials = self
            .target_connection()
            .credentials(&settings.data_dir)
            .map_err(|e| ImportError::Io(format!("{e:#}")))?;
        Ok(credentials.map(|c| (c.user, Secret::new(c.password))))
    }
}

fn read_password(path: &Path) -> Result<String, ImportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::Io(format!("password file {}: {e}", path.display())))?;
    let password = text.lines().next().unwrap_or("").trim().to_string();
    if password.is_empty() {
        return Err(ImportError::Io(format!(
            "password file {} is empty",
            path.display()
        )));
    }
    Ok(password)
}

/// Runs the import; returns the process exit code (1 if anything failed).
pub fn run(args: &NexusArgs, settings: &Settings) -> Result<i32, ImportError> {
    let options = args.options(settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ImportError::Io(format!("cannot start the runtime: {e}")))?;
    let report = runtime.block_on(super::run(&options))?;
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    if let Some(path) = &args.report {
        std::fs::write(path, &json)
            .map_err(|e| ImportError::Io(format!("report {}: {e}", path.display())))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", report.human());
    }
    Ok(if report.failed() { 1 } else { 0 })
}
