//! Where the metadata lives: the embedded SQLite file (default) or a PostgreSQL server.
//! Built from the settings by the composition root and the offline commands, opened by
//! [`super::Meta`].

use std::path::PathBuf;
use std::time::Duration;

use super::redact_url;

/// A metadata database to open.
#[derive(Clone, Debug)]
pub enum Location {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    Postgres(PgSettings),
}

/// How to reach the database. `Debug` never shows the password.
#[derive(Clone)]
pub struct PgSettings {
    /// `postgres://user[:password]@host[:port]/database[?…]`.
    pub url: String,
    /// Used when the URL has no password (else `PGPASSWORD`, then `~/.pgpass`, apply).
    pub password: Option<String>,
    pub max_connections: u32,
    /// Connections kept apart for cluster locks and leases (`meta::locks`).
    pub lock_connections: u32,
    /// How long a caller waits for a connection before failing (an error for which
    /// [`super::MetaError::is_unavailable`] holds).
    pub acquire_timeout: Duration,
}

impl PgSettings {
    /// Defaults for `url`: 16 connections, 5 s to get one.
    pub fn new(url: &str) -> Self {
        PgSettings {
            url: url.to_string(),
            password: None,
            max_connections: 16,
            lock_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("max_connections", &self.max_connections)
            .field("lock_connections", &self.lock_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl Location {
    /// The metadata database `settings` name: `meta.url`, else the SQLite file of the data
    /// directory. Reads `meta.password_file`.
    pub fn of(settings: &crate::config::Settings) -> anyhow::Result<Location> {
        let Some(url) = &settings.meta.url else {
            return Ok(Location::Sqlite(settings.data_dir.join("berth.db")));
        };
        let password = match &settings.meta.password_file {
            Some(file) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read the database password from {} (setting \
                         meta.password_file): {e}",
                        file.display()
                    )
                })?;
                Some(text.trim_end_matches(['\r', '\n']).to_string())
            }
            None => None,
        };
        Ok(Location::Postgres(PgSettings {
            url: url.clone(),
            password,
            max_connections: settings.meta.max_connections,
            lock_connections: settings.meta.lock_connections,
            acquire_timeout: std::time::Duration::from_secs(settings.meta.acquire_timeout_secs),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let mut s = PgSettings::new("postgres://u:hunter2@h/d");
        s.password = Some("hunter3".into());
        let shown = format!("{:?}", Location::Postgres(s));
        assert!(!shown.contains("hunter"), "{shown}");
    }
}
