//! A real S3 server for tests: Garage (an S3 engine written in Rust), single node, on free
//! ports in a temp dir, with one bucket and one key; killed on drop.
//!
//! The binary is `BERTH_GARAGE_BIN` (CI sets it to a prebuilt copy), else the one
//! `scripts/install-test-deps.sh` builds into `${BERTH_TEST_DEPS:-~/.cache/berth-test-deps}/garage`,
//! else `garage` on PATH. Missing, it fails the test — unless `BERTH_SKIP_S3=1`, when
//! [`Garage::start`] returns `None` after a loud message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Key and secret in the shapes Garage requires (`GK` + 24 hex digits; 64 hex digits).
/// Test-only values: the server lives in a temp dir on 127.0.0.1 for one test.
const ACCESS_KEY: &str = "GK0123456789abcdef01234567";
const SECRET_KEY: &str = "8f1a0c5e2b7d4a9e3c6f1b8d5a2e7c4f9b3d6a1e8c5f2b7d4a9e3c6f1b8d5a2e";
pub const REGION: &str = "garage";
pub const BUCKET: &str = "berth";

pub struct Garage {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
}

impl Garage {
    /// Starts Garage and waits until its S3 API answers; `None` only with `BERTH_SKIP_S3=1`.
    pub async fn start() -> Option<Garage> {
        let Some(bin) = find_binary() else {
            if std::env::var("BERTH_SKIP_S3").as_deref() == Ok("1") {
                eprintln!(
                    "\n*** SKIPPED: no Garage binary and BERTH_SKIP_S3=1: the S3 tests did NOT run ***\n"
                );
                return None;
            }
            panic!(
                "no Garage binary: set BERTH_GARAGE_BIN, run scripts/install-test-deps.sh \
                 (builds it into ~/.cache/berth-test-deps/garage), or set BERTH_SKIP_S3=1 \
                 to skip the S3 tests"
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let s3_port = free_port();
        let rpc_port = free_port();
        write_config(dir.path(), s3_port, rpc_port);
        let mut garage = Garage {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            region: REGION.into(),
            bucket: BUCKET.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            dir,
            bin,
            child: None,
        };
        garage.resume().await;
        Some(garage)
    }

    /// Stops the server (SIGKILL: an engine that vanishes, as in an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and data (after `stop`).
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "garage is already running");
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("garage.log"))
            .unwrap();
        // `--single-node --default-bucket` does what `layout assign`/`apply`, `key create`,
        // `bucket create` and `bucket allow` would, idempotently, so a restart keeps the data.
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &self.access_key)
            .env("GARAGE_DEFAULT_SECRET_KEY", &self.secret_key)
            .env("GARAGE_DEFAULT_BUCKET", &self.bucket)
            .env("RUST_LOG", "garage=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start garage");
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Waits until a signed request for the bucket succeeds (layout, key and bucket ready).
    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("garage exited during start-up ({status}):\n{}", self.log());
            }
            // Any HTTP answer means the S3 API listens; Garage creates the key and the bucket
            // before it opens the port.
            if client.get(&self.endpoint).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "garage did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    /// A `[[blob_stores]]` table declaring S3 store `name` on this server under prefix
    /// `name`, pre-signed redirects on or off.
    pub fn store_toml(&self, name: &str, redirect: bool) -> String {
        format!(
            r#"
[[blob_stores]]
name = "{name}"
type = "s3"
endpoint = "{}"
region = "{}"
bucket = "{}"
prefix = "{name}"
path_style = true
access_key_id = "{}"
secret_access_key = "{}"
redirect = {redirect}
"#,
            self.endpoint, self.region, self.bucket, self.access_key, self.secret_key
        )
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_config(dir: &Path, s3_port: u16, rpc_port: u16) {
    let d = dir.display();
    // A random RPC secret per server: nothing else can join this test cluster.
    let secret: String = (0..4)
        .map(|_| format!("{:016x}", rand_u64()))
        .collect::<String>();
    let config = format!(
        r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
"#
    );
    std::fs::write(dir.join("garage.toml"), config).unwrap();
}

fn rand_u64() -> u64 {
    let id = uuid::Uuid::new_v4();
    let b = id.as_bytes();
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn find_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("BERTH_GARAGE_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "BERTH_GARAGE_BIN={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let deps = std::env::var("BERTH_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/berth-test-deps")
        });
    let cached = deps.join("garage/bin/garage");
    if cached.is_file() {
        return Some(cached);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("garage"))
            .find(|p| p.is_file())
    })
}
