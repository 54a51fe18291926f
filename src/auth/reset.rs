//! `berth admin reset-password`: the way back in when the admin password is lost. It works
//! on a *stopped* server's data directory (a running server keeps the user model in memory
//! and would not see the change), writes a new argon2id hash to the database and the new
//! random password to a file only its owner can read, never to the terminal or a log.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use super::manage::ADMIN_PASSWORD_FILE;
use super::{password, Security};
use crate::config::Settings;

/// Resets `user`'s password; returns the file holding the new one.
pub async fn reset_password(
    settings: &Settings,
    user: &str,
    output: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    let data_dir = &settings.data_dir;
    if settings.meta.url.is_none() && !data_dir.join("berth.db").is_file() {
        bail!(
            "no Berth database in {}: pass the server's --data-dir (or --config)",
            data_dir.display()
        );
    }
    refuse_if_serving(settings)?;
    // The server's own lock: also refuses a server listening elsewhere (another config).
    let _lock = crate::datadir::prepare(data_dir, settings.meta.url.is_none())?;
    let output = output.unwrap_or_else(|| match user {
        super::model::ADMIN_USER => data_dir.join(ADMIN_PASSWORD_FILE),
        _ => data_dir.join(format!("{user}.password")),
    });
    let meta = crate::meta::Meta::open(crate::meta::Location::of(settings)?).await?;
    let security = Security::open(&settings.security, data_dir, meta.security().clone()).await?;
    if !security.snapshot().users.contains_key(user) || user == super::model::ANONYMOUS_USER {
        bail!(
            "there is no user {user} with a password in {}",
            data_dir.display()
        );
    }
    let secret = password::random_secret(18);
    // Written next to its destination first: if the database write fails, the old password
    // still works and no file claims otherwise.
    let staged = output.with_extension("new");
    let _ = std::fs::remove_file(&staged);
    password::write_private(&staged, secret.as_bytes())
        .with_context(|| format!("cannot write {}", staged.display()))?;
    if let Err(e) = security.change_password(user, &secret).await {
        let _ = std::fs::remove_file(&staged);
        return Err(anyhow::anyhow!("cannot store the new password: {e}"));
    }
    std::fs::rename(&staged, &output)
        .with_context(|| format!("cannot move the password to {}", output.display()))?;
    Ok(output)
}

/// A server answering on the configured address holds the data directory.
fn refuse_if_serving(settings: &Settings) -> anyhow::Result<()> {
    let mut addr = settings.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
        bail!(
            "a server is listening on {addr}: stop berth first (a running server keeps \
             users in memory and would not see the new password)"
        );
    }
    Ok(())
}
