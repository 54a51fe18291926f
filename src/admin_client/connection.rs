//! How a `berth` subcommand reaches a running server's admin API: the address, the
//! credentials and the TLS trust, as one set of command-line options that every admin
//! subcommand (`gc`, `task`, `health`, `import …`) flattens into its own arguments.
//!
//! The password is never taken from an argument (argv is visible to every user of the
//! machine in `ps`): it comes from `BERTH_ADMIN_PASSWORD`, from `--password-file`, or, for
//! `admin` on the server's own host, from the bootstrap file `<data_dir>/admin.password`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Settings;

/// The environment variable holding the admin password.
pub const PASSWORD_ENV: &str = "BERTH_ADMIN_PASSWORD";

/// Command-line options to reach the admin API (`#[command(flatten)]` them).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct AdminConnection {
    /// Base URL of the server, e.g. https://registry.example:8081 (default: the configured
    /// `listen` address on this host, https when `security.tls` is set).
    #[arg(long, env = "BERTH_URL")]
    pub url: Option<String>,
    /// User name for the admin API (needed with security on; default `admin` when a
    /// password is given).
    #[arg(long, short = 'u', env = "BERTH_ADMIN_USER")]
    pub user: Option<String>,
    /// File whose first line is the password (else `BERTH_ADMIN_PASSWORD`, else the
    /// server's `<data_dir>/admin.password` for `admin`). Never given on the command line.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA (or self-signed certificate) to trust for an https URL.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
}

/// Basic credentials resolved from the options.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

impl AdminConnection {
    /// The base URL without a trailing slash.
    pub fn base_url(&self, settings: &Settings) -> String {
        if let Some(url) = &self.url {
            return url.trim_end_matches('/').to_string();
        }
        let mut addr = settings.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = match settings.security.tls {
            Some(_) => "https",
            None => "http",
        };
        format!("{scheme}://{addr}")
    }

    /// The credentials to send, if any: `--password-file`, then the environment, then the
    /// bootstrap password file of `data_dir` (only for `admin`).
    pub fn credentials(&self, data_dir: &Path) -> anyhow::Result<Option<Credentials>> {
        let user = self.user.clone().unwrap_or_else(|| "admin".into());
        if let Some(path) = &self.password_file {
            let password = read_password_file(path)?;
            return Ok(Some(Credentials { user, password }));
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            if !password.is_empty() {
                return Ok(Some(Credentials { user, password }));
            }
        }
        if user == "admin" {
            let bootstrap = data_dir.join(crate::auth::manage::ADMIN_PASSWORD_FILE);
            if let Ok(password) = read_password_file(&bootstrap) {
                return Ok(Some(Credentials { user, password }));
            }
        }
        match self.user {
            Some(_) => anyhow::bail!(
                "no password for user {user}: set {PASSWORD_ENV} or pass --password-file"
            ),
            None => Ok(None),
        }
    }
}

/// The first line of `path`, trimmed; an empty password is refused.
fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    let password = text.lines().next().unwrap_or("").trim().to_string();
    if password.is_empty() {
        anyhow::bail!("the password file {} is empty", path.display());
    }
    Ok(password)
}
