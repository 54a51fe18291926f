//! `spawn_app()` and typed helpers shared by every black-box test binary. Each suite
//! includes this module (`#[path = "../common/mod.rs"] mod common;`); a helper two suites
//! need lives here, not in a suite's `support.rs`:
//!
//! - here: starting Berth (`spawn_app*`, `start_failure*`), [`free_port`], JSON and header
//!   helpers, `/proc` readings;
//! - [`config`]: Berth with a TOML file; [`images`]: in-memory images and the one push;
//!   [`uploads`]: chunked upload sessions; [`store`]: blob files on disk;
//!   [`metrics`]: scraping `/metrics`; [`layers`]: noise, tar, gzip;
//! - [`process`], [`docker`], [`skopeo`]: external programs, failing loudly when missing;
//!   [`postgres`]: a private PostgreSQL server; [`garage`]: an S3 server; [`cluster`]: both
//!   plus N nodes; [`nginx`]: the shipped cluster proxy config in front of them;
//!   [`certs`]: a test CA.
// Every suite includes this module but uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod cluster;
pub mod config;
pub mod docker;
pub mod garage;
pub mod images;
pub mod layers;
pub mod metrics;
pub mod nginx;
pub mod postgres;
pub mod process;
pub mod skopeo;
pub mod store;
pub mod uploads;

pub use config::*;
pub use images::*;
pub use layers::*;
pub use metrics::*;
pub use process::*;
pub use skopeo::*;
pub use store::*;
pub use uploads::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response};
use sha2::Digest as _;

/// A running Berth with its own temp data directory; killed on drop.
pub struct TestApp {
    pub addr: String,
    pub base: String,
    pub client: Client,
    pub data: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
    /// `ulimit -n` the server runs under (`spawn_app_with_nofile`), kept across restarts.
    nofile: Option<u32>,
}

/// Starts Berth with default settings on 127.0.0.1, port chosen by the OS.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts Berth with extra command-line arguments / environment (`KEY=VALUE` items are env).
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn(extra, None).await
}

/// Starts Berth as `spawn_app_with` does, under `ulimit -n nofile` (soft and hard limit, so
/// the server cannot raise it).
pub async fn spawn_app_with_nofile(nofile: u32, extra: &[&str]) -> TestApp {
    spawn(extra, Some(nofile)).await
}

/// The HTTP client every test app uses. Idle pooled connections are dropped after 2 s, before
/// the server's 5 s keep-alive closes them: reusing a connection the server is closing at that
/// moment fails with `IncompleteMessage` (seen under load after a docker push idled the pool).
pub fn test_client() -> Client {
    Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn spawn(extra: &[&str], nofile: Option<u32>) -> TestApp {
    spawn_in(tempfile::tempdir().expect("temp dir"), extra, nofile).await
}

/// As [`spawn_app_with`], in a data directory prepared by the caller (a cluster node's
/// shared `secrets.key` in place before the first start).
pub async fn spawn_app_in(data: tempfile::TempDir, extra: &[&str]) -> TestApp {
    spawn_in(data, extra, None).await
}

async fn spawn_in(data: tempfile::TempDir, extra: &[&str], nofile: Option<u32>) -> TestApp {
    let extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let (child, addr) = start(data.path(), &extra_args, nofile).await;
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client: test_client(),
        data,
        child: Some(child),
        extra_args,
        nofile,
    }
}

/// Where a server started by `spawn_app_with_stderr` writes its log.
pub enum BrokenStderr {
    /// `/dev/full`: every write fails with ENOSPC.
    DevFull,
    /// A pipe whose reading end is closed: every write fails with EPIPE.
    ClosedPipe,
}

/// Starts Berth with a stderr that refuses every write, on a port chosen here (its log
/// cannot say which). Returns once it answers HTTP; panics if it exits instead.
pub async fn spawn_app_with_stderr(stderr: BrokenStderr, extra: &[&str]) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    extra_args.push(format!("BERTH_LISTEN={addr}"));
    let cmd = berth_command(data.path(), Stdio::null(), &extra_args);
    // The helper's `--listen 127.0.0.1:0` would win over the environment.
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut args = args.into_iter();
    let mut kept = Vec::new();
    while let Some(a) = args.next() {
        if a == "--listen" {
            args.next();
            continue;
        }
        kept.push(a);
    }
    let mut fixed = Command::new(cmd.get_program());
    fixed.args(kept).stdout(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => fixed.env(k, v),
            None => fixed.env_remove(k),
        };
    }
    match stderr {
        BrokenStderr::DevFull => {
            let full = std::fs::File::options()
                .write(true)
                .open("/dev/full")
                .unwrap();
            fixed.stderr(full);
        }
        BrokenStderr::ClosedPipe => {
            let mut fds = [0; 2];
            // SAFETY: pipe(2) fills two descriptors this test then owns.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: the reading end is closed at once; the writing end becomes stderr.
            unsafe { libc::close(fds[0]) };
            let write_end =
                unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
            fixed.stderr(Stdio::from(write_end));
        }
    }
    let mut child = fixed.spawn().expect("start berth");
    let client = Client::builder().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("berth exited during start-up ({status}) with a broken stderr");
        }
        if client
            .get(format!("http://{addr}/v2/"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "berth did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client,
        data,
        child: Some(child),
        extra_args,
        nofile: None,
    }
}

async fn start(data: &Path, extra: &[String], nofile: Option<u32>) -> (Child, String) {
    let log_path = data.join("berth.log");
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let mut cmd = match nofile {
        None => berth_command(data, log.into(), extra),
        Some(n) => under_ulimit(
            berth_command(data, log.try_clone().unwrap().into(), extra),
            n,
            log,
        ),
    };
    let mut child = cmd.spawn().expect("start berth");
    let addr = wait_for_listen_line(&log_path, &mut child).await;
    (child, addr)
}

/// `cmd` run through `sh` after `ulimit -n nofile`, stderr to `log`.
fn under_ulimit(cmd: Command, nofile: u32, log: std::fs::File) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh
}

/// `berth serve` on 127.0.0.1:0 with `<dir>/data`, stderr to `log`. Items of `extra` of the
/// form `KEY=VALUE` become environment variables, the rest are arguments.
fn berth_command(dir: &Path, log: Stdio, extra: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("BERTH_WORKERS", "2")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log);
    // Test-suite switches such as BERTH_SKIP_DOCKER share Berth's BERTH_ prefix, and Berth
    // refuses to start on an unknown BERTH_ setting: keep them away from the server.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BERTH_SKIP_") {
            cmd.env_remove(key);
        }
    }
    for item in extra {
        match item.split_once('=') {
            Some((k, v)) if !k.starts_with('-') => {
                cmd.env(k, v);
            }
            _ => {
                cmd.arg(item);
            }
        }
    }
    cmd
}

/// Waits for the newest "berth listening on http://ADDR" line in the log; fails at once, with
/// the log, if the server exits instead.
async fn wait_for_listen_line(log_path: &Path, child: &mut Child) -> String {
    // Generous: a loaded 2-core CI machine can be slow to start a process.
    let deadline = Instant::now() + Duration::from_secs(90);
    let already = read_to_string(log_path)
        .matches("berth listening on")
        .count();
    loop {
        let text = read_to_string(log_path);
        if text.matches("berth listening on").count() > already {
            let line = text
                .lines()
                .rev()
                .find(|l| l.contains("berth listening on http"))
                .unwrap();
            // `http://ADDR` or, with TLS, `https://ADDR`.
            let after = line.split("://").nth(1).unwrap();
            return after.split_whitespace().next().unwrap().to_string();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("berth exited during start-up ({status}):\n{text}");
        }
        assert!(Instant::now() < deadline, "berth did not start:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs Berth with `extra` (as `spawn_app_with` does, on a fresh data directory) expecting
/// it to refuse to start: panics unless it exits with a non-zero status within `within`.
/// Returns what it wrote to stderr.
pub async fn start_failure(extra: &[&str], within: Duration) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    start_failure_in(dir.path(), extra, within).await
}

/// `start_failure` on an existing test directory (`TestApp::data`'s path: the data
/// directory is its `data` child), e.g. to try a bad configuration on existing content.
pub async fn start_failure_in(dir: &Path, extra: &[&str], within: Duration) -> String {
    let log_path = dir.join("start-failure.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let mut cmd = berth_command(dir, log.into(), &extra);
    cmd.stdin(Stdio::null());
    let mut child = cmd.spawn().expect("start berth");
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait for berth") {
            let text = read_to_string(&log_path);
            assert!(!status.success(), "berth exited successfully:\n{text}");
            return text;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "berth was still running after {within:?} instead of refusing to start:\n{}",
                read_to_string(&log_path)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn read_to_string(p: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

impl TestApp {
    /// A handle on a server this test did not start (a proxy in front of nodes): the
    /// request helpers work, the process ones do not.
    pub fn remote(addr: &str) -> TestApp {
        TestApp {
            addr: addr.to_string(),
            base: format!("http://{addr}"),
            client: test_client(),
            data: tempfile::tempdir().expect("temp dir"),
            child: None,
            extra_args: Vec::new(),
            nofile: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        read_to_string(&self.data.path().join("berth.log"))
    }

    /// The server's process id (the shell of `spawn_app_with_nofile` `exec`s into it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    /// The server's resident memory now, in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> u64 {
        rss_kib(self.pid()) * 1024
    }

    /// The server's peak resident memory since start or the last [`Self::reset_peak_rss`].
    pub fn peak_rss_bytes(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// Restarts the peak (`VmHWM`) from the current resident memory (`clear_refs` 5).
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").expect("clear_refs");
    }

    /// SIGKILLs the server (no graceful shutdown).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM, as a service manager would, and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM), then starts it on the same data directory.
    pub async fn restart_gracefully(&mut self) {
        self.stop();
        self.restart().await;
    }

    /// Starts the server again on the same data directory (a new port).
    pub async fn restart(&mut self) {
        self.kill9();
        let (child, addr) = start(self.data.path(), &self.extra_args, self.nofile).await;
        self.base = format!("http://{addr}");
        self.addr = addr;
        self.child = Some(child);
    }

    /// Starts the server again on the same data directory with `extra` added to its
    /// arguments / environment (e.g. a setting that would stop the set-up done before).
    pub async fn restart_with(&mut self, extra: &[&str]) {
        self.extra_args.extend(extra.iter().map(|s| s.to_string()));
        self.restart().await;
    }

    /// `method path` with `body` as JSON; the caller asserts.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Response {
        self.req(method, path)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `GET path`: (status, body as JSON, or as a JSON string if it is not JSON).
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.req(Method::GET, path).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    /// `GET path`, asserting 200; the JSON body.
    pub async fn get_json_ok(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get_json(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `DELETE path`; its status.
    pub async fn delete(&self, path: &str) -> u16 {
        let r = self.req(Method::DELETE, path).send().await.unwrap();
        r.status().as_u16()
    }

    /// Monolithic upload (`POST ?digest=`); returns the digest.
    pub async fn push_blob(&self, name: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self
            .req(
                Method::POST,
                &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "push_blob: {}", r.text().await.unwrap());
        digest
    }

    /// PUTs a manifest; returns the response.
    pub async fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.req(Method::PUT, &format!("/v2/{name}/manifests/{reference}"))
            .header("Content-Type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes [`Image::seeded`]`(seed)` tagged `tag`; returns (manifest digest, manifest
    /// bytes).
    pub async fn push_image(&self, name: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
        let image = Image::seeded(seed);
        (self.push(name, tag, &image).await, image.manifest)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// An OCI image manifest over the given (digest, size) config and layers.
pub fn oci_manifest(config: (&str, usize), layers: &[(&str, usize)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, s)| format!(r#"{{"mediaType":"{OCI_LAYER}","digest":"{d}","size":{s}}}"#))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{}]}}"#,
        config.0,
        config.1,
        layers.join(",")
    )
}

/// Asserts an OCI error body with `code` and returns it.
pub async fn assert_oci_error(r: Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let body: serde_json::Value = r.json().await.expect("JSON error body");
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&code), "expected {code} in {body}");
    body
}

/// A loopback port that was free a moment ago (the OS picked it; the listener is closed
/// again), for a server or upstream that must be told its port before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Sending a request whose body the test reads whatever the status (a transport error, or
/// a body that is not what was asked for, panics).
pub trait BodyOf {
    async fn text_body(self) -> String;
    async fn json_body(self) -> serde_json::Value;
}

impl BodyOf for RequestBuilder {
    async fn text_body(self) -> String {
        self.send().await.unwrap().text().await.unwrap()
    }

    async fn json_body(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

/// A header as a string ("" if absent).
pub fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A `kB` field (e.g. `VmRSS:`) of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with(field)).expect(field);
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB")
}

/// Resident memory of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// True if the `docker` CLI can talk to a daemon here.
pub fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True if `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
