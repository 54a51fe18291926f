//! Several Berth nodes sharing one truth, for the scale-out tests: a private PostgreSQL
//! ([`super::postgres`]) for the metadata and a Garage S3 server ([`super::garage`]) for the
//! blobs; each node has its own data directory (secrets key, logs) and its own port. The
//! default repository `docker-hosted` lives on the S3 store `s3`. Everything stops on drop.
//!
//! Nodes share one sealing key (`secrets_key_file`) and one token signing key
//! (`security.token_key_file`), as a real deployment must arrange: a secret one node seals (a
//! proxy's upstream password) another opens, a token one node issues another accepts. Node
//! `i` has `cluster.node_id = "berth<i+1>"`, the names `packaging/nginx/berth-cluster.conf`
//! routes upload sessions by.

use super::garage::Garage;
use super::postgres::Postgres;
use super::{spawn_app_with, ConfigFile, TestApp};

pub struct Cluster {
    pub nodes: Vec<TestApp>,
    pub config: ConfigFile,
    /// Holds the database password file.
    secrets: tempfile::TempDir,
    pub garage: Garage,
    pub pg: Postgres,
}

impl Cluster {
    /// PostgreSQL, Garage and `n` nodes on them; `extra_toml` is appended to the shared
    /// configuration file (more stores, repositories, `[security]` …). `None` only when a
    /// `BERTH_SKIP_POSTGRES=1` / `BERTH_SKIP_S3=1` switch says to skip.
    pub async fn start(n: usize, extra_toml: &str) -> Option<Cluster> {
        let pg = Postgres::start()?;
        let garage = Garage::start().await?;
        let toml = format!(
            "default_repository = \"docker-hosted\"\n{}\n[[repositories]]\nname = \"docker-hosted\"\ntype = \"hosted\"\nblob_store = \"s3\"\n{extra_toml}",
            garage.store_toml("s3", false)
        );
        let config = ConfigFile::new(&toml);
        let secrets = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            secrets.path().join("pg-password"),
            format!("{}\n", pg.password()),
        )
        .unwrap();
        // What `head -c 32 /dev/urandom | base64` gives an operator (README "Running several
        // nodes"); fixed bytes are enough for a test.
        for (file, byte) in [("secrets.key", 7u8), ("token.key", 9u8)] {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
            std::fs::write(secrets.path().join(file), format!("{key}\n")).unwrap();
        }
        let mut cluster = Cluster {
            nodes: Vec::new(),
            config,
            secrets,
            garage,
            pg,
        };
        for _ in 0..n {
            cluster.add_node(&[]).await;
        }
        Some(cluster)
    }

    /// The arguments and environment every node starts with (see `spawn_app_with`).
    pub fn node_args(&self) -> Vec<String> {
        vec![
            format!("BERTH_META__URL={}", self.pg.url_without_password()),
            format!(
                "BERTH_META__PASSWORD_FILE={}",
                self.secrets.path().join("pg-password").display()
            ),
            "BERTH_META__ACQUIRE_TIMEOUT_SECS=2".to_string(),
            format!(
                "BERTH_SECRETS_KEY_FILE={}",
                self.secrets.path().join("secrets.key").display()
            ),
            format!(
                "BERTH_SECURITY__TOKEN_KEY_FILE={}",
                self.secrets.path().join("token.key").display()
            ),
            "--config".to_string(),
            self.config.path().to_string(),
        ]
    }

    /// Starts one more node (with `extra` arguments or `KEY=VALUE` settings) and returns
    /// its index.
    pub async fn add_node(&mut self, extra: &[&str]) -> usize {
        let mut args = self.node_args();
        args.push(format!(
            "BERTH_CLUSTER__NODE_ID={}",
            Self::node_id(self.nodes.len())
        ));
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let node = spawn_app_with(&refs).await;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// `cluster.node_id` of node `i`.
    pub fn node_id(i: usize) -> String {
        format!("berth{}", i + 1)
    }

    /// The shared key files (`secrets.key`, `token.key`) live here.
    pub fn secrets_dir(&self) -> &std::path::Path {
        self.secrets.path()
    }

    pub fn node(&self, i: usize) -> &TestApp {
        &self.nodes[i]
    }

    /// Every node's log, labelled, for assertion messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("--- node {i} ---\n{}\n", n.log()))
            .collect()
    }
}

/// Polls `probe` (every 10 ms) until it yields a value, for at most `within`; returns the
/// value and how long it took. Panics naming `what` when time runs out. For what another
/// node must show "within seconds": the deadline bounds the wait, it is not the assertion.
pub async fn eventually<T, F, Fut>(
    what: &str,
    within: std::time::Duration,
    mut probe: F,
) -> (T, std::time::Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return (value, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "{what}: not seen within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
