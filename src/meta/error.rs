//! Errors of the metadata layer.

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("metadata migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("metadata is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("stored value could not be parsed: {0}")]
    Corrupt(String),
}
