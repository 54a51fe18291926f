//! Connection settings of an S3 store, and the client built from them.

use std::path::PathBuf;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

/// Where a store's bucket is and how to sign requests. `Debug` never shows the secret.
#[derive(Clone)]
pub struct S3Options {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://garage:3900`, …; `None` = AWS for `region`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Key prefix inside the bucket, so several stores can share one.
    pub prefix: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// Given inline, else read from `credentials_file`, else `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) in Berth's environment.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// An AWS shared-credentials style file (`aws_access_key_id = …`,
    /// `aws_secret_access_key = …`; the `[default]` profile, or the only one).
    pub credentials_file: Option<PathBuf>,
    /// Blob GETs answer `307` to a pre-signed URL valid this many seconds (0: stream through
    /// Berth).
    pub redirect_secs: u64,
    /// Largest object published with one server-side `CopyObject` (S3 allows 5 GiB); larger
    /// ones are copied by streaming them through Berth into a multipart upload.
    pub copy_max_bytes: u64,
}

/// AWS S3's limit on one `CopyObject`.
pub const COPY_OBJECT_MAX_BYTES: u64 = 5 * 1024 * 1024 * 1024;

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            region: String::new(),
            bucket: String::new(),
            prefix: String::new(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            credentials_file: None,
            redirect_secs: 0,
            copy_max_bytes: COPY_OBJECT_MAX_BYTES,
        }
    }
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("credentials_file", &self.credentials_file)
            .field("redirect_secs", &self.redirect_secs)
            .field("copy_max_bytes", &self.copy_max_bytes)
            .finish()
    }
}

/// An access key and its secret (and an optional session token).
struct Credentials {
    key: String,
    secret: String,
    token: Option<String>,
}

impl S3Options {
    /// `s3://bucket/prefix at endpoint`, for messages (no credentials).
    pub fn location(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("AWS");
        format!(
            "s3://{}/{} at {at} ({})",
            self.bucket,
            self.prefix.trim_matches('/'),
            self.region
        )
    }

    pub fn redirect_ttl(&self) -> Option<Duration> {
        (self.redirect_secs > 0).then(|| Duration::from_secs(self.redirect_secs))
    }

    pub(super) fn client(&self) -> Result<AmazonS3, String> {
        let creds = self.credentials()?;
        let mut builder = AmazonS3Builder::new()
            .with_region(&self.region)
            .with_bucket_name(&self.bucket)
            .with_access_key_id(creds.key)
            .with_secret_access_key(creds.secret)
            .with_virtual_hosted_style_request(!self.path_style)
            .with_client_options(client_options())
            .with_retry(retry());
        if let Some(token) = creds.token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        builder.build().map_err(|e| e.to_string())
    }

    fn credentials(&self) -> Result<Credentials, String> {
        if let (Some(key), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            return Ok(Credentials {
                key: key.clone(),
                secret: secret.clone(),
                token: None,
            });
        }
        if let Some(path) = &self.credentials_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read credentials_file {}: {e}", path.display()))?;
            return parse_credentials_file(&text).ok_or_else(|| {
                format!(
                    "credentials_file {} has no aws_access_key_id and aws_secret_access_key",
                    path.display()
                )
            });
        }
        match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(key), Ok(secret)) => Ok(Credentials {
                key,
                secret,
                token: std::env::var("AWS_SESSION_TOKEN").ok(),
            }),
            _ => Err("no credentials: set access_key_id and secret_access_key, \
                      credentials_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into()),
        }
    }
}

/// Fails fast when the server is down (a refused connection is retried twice within a
/// second or so), so a request answers 503 quickly instead of hanging for minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    }
}

fn client_options() -> ClientOptions {
    // No whole-request timeout: a multi-gigabyte layer streams for as long as it takes.
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(3))
        .with_timeout_disabled()
}

/// `[default]` (or the first profile) of an AWS shared-credentials style file.
fn parse_credentials_file(text: &str) -> Option<Credentials> {
    let mut profiles: Vec<(String, Vec<(String, String)>)> = vec![(String::new(), Vec::new())];
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push((name.trim().to_string(), Vec::new()));
        } else if let Some((k, v)) = line.split_once('=') {
            let entry = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            profiles.last_mut().expect("one profile").1.push(entry);
        }
    }
    let get = |entries: &[(String, String)], key: &str| {
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    profiles
        .iter()
        .filter(|(_, entries)| get(entries, "aws_access_key_id").is_some())
        .min_by_key(|(name, _)| name != "default")
        .and_then(|(_, entries)| {
            Some(Credentials {
                key: get(entries, "aws_access_key_id")?,
                secret: get(entries, "aws_secret_access_key")?,
                token: get(entries, "aws_session_token"),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_of_a_credentials_file_wins() {
        let text = "[other]\naws_access_key_id = A1\naws_secret_access_key = S1\n\
                    [default]\naws_access_key_id=A2\naws_secret_access_key= S2\n";
        let c = parse_credentials_file(text).unwrap();
        assert_eq!((c.key.as_str(), c.secret.as_str()), ("A2", "S2"));
        assert!(parse_credentials_file("[x]\nfoo = bar\n").is_none());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let o = S3Options {
            access_key_id: Some("GKPUBLIC".into()),
            secret_access_key: Some("very-secret-value".into()),
            ..Default::default()
        };
        let shown = format!("{o:?}");
        assert!(shown.contains("GKPUBLIC") && !shown.contains("very-secret-value"));
    }
}
