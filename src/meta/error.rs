//! Errors of the metadata layer.

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("metadata migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("metadata database directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("stored value could not be parsed: {0}")]
    Corrupt(String),
    /// A conditional tag write ([`super::TagWrite::once`]) found the tag on another digest.
    #[error("tag {tag} already points to {current}")]
    TagExists { tag: String, current: String },
    #[error("unsupported metadata URL {0} (expected sqlite://<path> or postgres://…)")]
    Url(String),
}

impl MetaError {
    /// True when the database cannot be reached (down, restarting, refusing connections,
    /// no free connection within the acquire timeout): a later retry may succeed, so the
    /// HTTP layer answers 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        let MetaError::Db(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|pg| pg_code_unavailable(pg.code())),
            _ => false,
        }
    }
}

/// PostgreSQL error classes that mean "not now" rather than "wrong": connection
/// exceptions (08), insufficient resources (53), and shutdown or startup in progress.
fn pg_code_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}
