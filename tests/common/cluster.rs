//! Several Berth nodes sharing one truth, for the scale-out tests: a private PostgreSQL
//! ([`super::postgres`]) for the metadata and a Garage S3 server ([`super::garage`]) for the
//! blobs; each node has its own data directory (secrets key, logs) and its own port. The
//! default repository `docker-hosted` lives on the S3 store `s3`. Everything stops on drop.
//!
//! Nodes share one sealing key (copied into every data directory) so that a secret one node
//! seals (a proxy's upstream password) another can open, as a real deployment must arrange.

use std::path::PathBuf;

use super::garage::Garage;
use super::postgres::Postgres;
use super::{spawn_app_in, ConfigFile, TestApp};

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
            "--config".to_string(),
            self.config.path().to_string(),
        ]
    }

    /// Starts one more node (with `extra` arguments or `KEY=VALUE` settings) and returns
    /// its index. Its sealing key is the first node's, in place before it starts: with its
    /// own key it could not open what the first node sealed (an S3 store's secret) and
    /// would refuse to start.
    pub async fn add_node(&mut self, extra: &[&str]) -> usize {
        let mut args = self.node_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let data = tempfile::tempdir().expect("temp dir");
        if let Some(first) = self.nodes.first() {
            let key = self.secrets_key(first);
            if key.exists() {
                let dir = data.path().join("data");
                std::fs::create_dir_all(&dir).expect("data dir");
                std::fs::copy(&key, dir.join("secrets.key")).expect("share secrets.key");
            }
        }
        let node = spawn_app_in(data, &refs).await;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn secrets_key(&self, node: &TestApp) -> PathBuf {
        node.data_dir().join("secrets.key")
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
