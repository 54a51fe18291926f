//! The client side of the admin REST API, for `berth` subcommands that act on a running
//! server (`gc`, `task`, `health`, and later `import`): collection is online, and a second
//! process must not sweep the same store, so the CLI asks the server.
//!
//! - [`connection`]: the reusable command-line options (URL, user, password source, CA).
//! - [`AdminClient`]: blocking calls over reqwest (rustls) on a private single-thread
//!   runtime; errors say what to do (start the server, give credentials, trust the CA).
//! - [`tasks`]: run a task and follow its progress.

pub mod connection;
pub mod tasks;

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub use connection::{AdminConnection, Credentials};

/// A connection to one server's admin API.
pub struct AdminClient {
    base: String,
    credentials: Option<Credentials>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> anyhow::Result<Value> {
        if self.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.body).context("the server answered with malformed JSON")
    }
}

impl AdminClient {
    /// Builds a client for `base` (e.g. `https://host:8081`).
    pub fn new(
        base: String,
        credentials: Option<Credentials>,
        ca_cert: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(AdminClient {
            base,
            credentials,
            http: builder.build()?,
            runtime,
        })
    }

    /// The client the options and the configuration describe.
    pub fn from_options(
        options: &AdminConnection,
        settings: &crate::config::Settings,
    ) -> anyhow::Result<Self> {
        let credentials = options.credentials(&settings.data_dir)?;
        AdminClient::new(
            options.base_url(settings),
            credentials,
            options.ca_cert.as_deref(),
        )
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request; `body` is sent as JSON. Connection failures become errors that name the
    /// URL; HTTP statuses are left to the caller (see [`AdminClient::expect`]).
    pub fn send(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(c) = &self.credentials {
            request = request.basic_auth(&c.user, Some(&c.password));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|e| unreachable(&self.base, &e))?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Ok(Reply { status, body })
        })
    }

    /// Like [`AdminClient::send`], but a status other than `want` is an error that says why
    /// (credentials missing or refused, not an admin, the server's own message).
    pub fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        want: StatusCode,
    ) -> anyhow::Result<Reply> {
        let reply = self.send(method.clone(), path, body)?;
        if reply.status == want {
            return Ok(reply);
        }
        bail!("{method} {path}: {}", self.explain(&reply))
    }

    /// A human reading of an unexpected answer.
    pub fn explain(&self, reply: &Reply) -> String {
        let server = server_message(&reply.body);
        match reply.status {
            StatusCode::UNAUTHORIZED if self.credentials.is_none() => format!(
                "the server needs credentials (security is on): give --user and the password \
                 in {} or --password-file",
                connection::PASSWORD_ENV
            ),
            StatusCode::UNAUTHORIZED => {
                "the server refused the user name or password (401)".to_string()
            }
            StatusCode::FORBIDDEN => format!(
                "forbidden (403): {server}; the admin API needs a user with nx-all, called \
                 from an address in admin_allowed_from"
            ),
            status => format!("{status}: {server}"),
        }
    }
}

/// What the server said: a Nexus `[{"id","message"}]` list, an OCI error, or the raw text.
fn server_message(body: &str) -> String {
    let text = body.trim();
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return text.chars().take(300).collect();
    };
    let items = v
        .as_array()
        .cloned()
        .or_else(|| v["errors"].as_array().cloned())
        .unwrap_or_else(|| vec![v.clone()]);
    let messages: Vec<String> = items
        .iter()
        .filter_map(|i| i["message"].as_str().map(str::to_string))
        .collect();
    match messages.is_empty() {
        true => text.chars().take(300).collect(),
        false => messages.join("; "),
    }
}

/// A connection failure that says what to check.
fn unreachable(base: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut cause = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let hint = if cause.to_ascii_lowercase().contains("certificate") {
        "is the server's certificate trusted? pass its CA with --ca-cert"
    } else {
        "is `berth serve` running there? (--url, or --listen/--config to find it)"
    };
    anyhow::anyhow!("cannot reach berth at {base}: {cause}; {hint}")
}
