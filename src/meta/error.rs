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
    #[error("unsupported metadata URL {0} (expected sqlite://<path>)")]
    Url(String),
}
