//! nginx in front of a test cluster, configured with the shipped
//! `packaging/nginx/berth-cluster.conf` (read from the repository, never copied here) with
//! its node addresses and listen port filled in; stopped on drop.
//!
//! The binary is `BERTH_NGINX_BIN`, else `/usr/sbin/nginx`, else `nginx` on PATH. Missing,
//! it fails the test — unless `BERTH_SKIP_NGINX=1`, when [`Nginx::start`] returns `None`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{client_present, free_port, test_client, TestApp};

/// The shipped cluster configuration names its nodes `berth1:8081` … `berth3:8081`.
pub const SHIPPED_NODES: usize = 3;

pub struct Nginx {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub addr: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn binary() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("BERTH_NGINX_BIN") {
        return Some(PathBuf::from(bin));
    }
    let sbin = Path::new("/usr/sbin/nginx");
    if sbin.exists() {
        return Some(sbin.to_path_buf());
    }
    super::have("nginx").then(|| PathBuf::from("nginx"))
}

/// The shipped file with `berth<i>:8081` → `nodes[i-1]` and `listen 80;` → `addr`.
pub fn filled_config(nodes: &[String], addr: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx/berth-cluster.conf");
    let mut text = std::fs::read_to_string(&path).expect("read the shipped nginx config");
    assert_eq!(
        nodes.len(),
        SHIPPED_NODES,
        "the shipped config has three nodes"
    );
    for (i, node) in nodes.iter().enumerate() {
        let shipped = format!("berth{}:8081", i + 1);
        assert!(
            text.contains(&shipped),
            "{shipped} missing from {}",
            path.display()
        );
        text = text.replace(&shipped, node);
    }
    assert!(
        text.contains("listen 80;"),
        "listen 80; missing from the shipped config"
    );
    text.replace("listen 80;", &format!("listen {addr};"))
}

impl Nginx {
    /// nginx on a free port routing to `nodes` (three, in `cluster.node_id` order
    /// `berth1`…); `None` only when `BERTH_SKIP_NGINX=1` says to skip.
    pub async fn start(nodes: &[&TestApp]) -> Option<Nginx> {
        let bin = binary();
        if !client_present(bin.is_some(), "nginx", "BERTH_SKIP_NGINX") {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = format!("127.0.0.1:{}", free_port());
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
        let site = filled_config(&addrs, &addr);
        std::fs::write(dir.path().join("berth-cluster.conf"), site).unwrap();
        // A main file of our own: unprivileged, every path in the temp dir.
        let d = dir.path().display();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/berth-cluster.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let child = Command::new(bin.unwrap())
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            base: format!("http://{addr}"),
            addr,
            dir,
            child: Some(child),
        };
        nginx.wait_ready().await;
        Some(nginx)
    }

    async fn wait_ready(&mut self) {
        let client = test_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("nginx exited during start-up ({status}):\n{}", self.log());
            }
            let status = format!("{}/service/rest/v1/status", self.base);
            if client.get(&status).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// nginx's error log (upstream failures and retries show here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The access log.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// A Berth test handle whose requests go through nginx (no process of its own: its
    /// `kill9`/`restart` do nothing useful). Reuses every request helper of [`TestApp`].
    pub fn front(&self) -> TestApp {
        TestApp::remote(&self.addr)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: graceful stop of the master and its worker.
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
