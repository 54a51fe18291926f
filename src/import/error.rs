//! The one error type of the importer. Every failure names the side (source Nexus or target
//! Berth) and what was being done, because an operator reads these at the end of a long run.

/// Why an import step failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A host could not be reached or the connection broke.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an unexpected status.
    #[error("{what}: {status} {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    /// The server answered something that is not what the API documents.
    #[error("{0}")]
    Malformed(String),
    /// Credentials were refused (401/403).
    #[error("{0}")]
    Refused(String),
    /// Bytes arrived that do not hash to the digest they were asked for.
    #[error("{0}")]
    DigestMismatch(String),
    /// A local file (password file, report) could not be written or read.
    #[error("{0}")]
    Io(String),
}

impl ImportError {
    pub fn status(what: impl Into<String>, status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into();
        // Error bodies can be whole HTML pages (a proxy in between); the first line is enough.
        body.truncate(300);
        ImportError::Status {
            what: what.into(),
            status,
            body,
        }
    }
}

/// The innermost cause of a client error ("connection refused"), which says more than the
/// outer "error sending request".
pub fn describe(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
