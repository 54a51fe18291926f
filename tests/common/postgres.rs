//! A private PostgreSQL server per test: `initdb` in a temporary directory, `postgres` on a
//! free loopback port with its socket in that directory, one database `berth` owned by a
//! password-protected user (so the URL's credentials are really checked). Stopped on drop.
//!
//! Debian's server binaries live in `/usr/lib/postgresql/<version>/bin`, not on PATH.
//! PostgreSQL refuses to run as root, so under root the server runs as the `postgres` OS
//! user the package creates (via `setpriv`, which execs: the child is the server itself).
//! A missing engine fails the test unless `BERTH_SKIP_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{client_present, free_port, run};

const USER: &str = "berth";
const DATABASE: &str = "berth";

/// A running private PostgreSQL; stopped and deleted on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    password: String,
    child: Option<Child>,
    /// With TLS: the CA that signed the server's certificate (for `sslrootcert`).
    tls_ca: Option<PathBuf>,
}

/// The newest installed server's binary directory.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file() && b.join("postgres").is_file())
        .collect();
    // Version directories are numbers ("15", "16"): sort numerically.
    dirs.sort_by_key(|b| {
        let version = b.parent().and_then(|v| v.file_name()).unwrap_or_default();
        version.to_string_lossy().parse::<u32>().unwrap_or(0)
    });
    dirs.pop()
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

impl Postgres {
    /// Starts a fresh server; `None` only when the engine is missing and
    /// `BERTH_SKIP_POSTGRES=1` says to skip.
    pub fn start() -> Option<Postgres> {
        Self::start_inner(false)
    }

    /// As [`Postgres::start`], serving TLS (`ssl=on`) with a certificate for 127.0.0.1 from
    /// a test CA ([`Postgres::tls_ca`]); plain connections are still accepted, so a test
    /// must check (`pg_stat_ssl`) that a client really used TLS.
    pub fn start_with_tls() -> Option<Postgres> {
        Self::start_inner(true)
    }

    fn start_inner(tls: bool) -> Option<Postgres> {
        let bin = bin_dir();
        if !client_present(bin.is_some(), "PostgreSQL (initdb)", "BERTH_SKIP_POSTGRES") {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-pg")
            .tempdir()
            .expect("temp dir");
        let password = format!("pw-{}-{}", std::process::id(), free_port());
        let mut pg = Postgres {
            dir,
            bin: bin.unwrap(),
            port: free_port(),
            password,
            child: None,
            tls_ca: None,
        };
        pg.init();
        if tls {
            pg.make_tls_files();
        }
        pg.launch();
        pg.wait_ready();
        let mut createdb = Command::new(pg.bin.join("createdb"));
        createdb
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                USER,
                DATABASE,
            ])
            .env("PGPASSWORD", &pg.password);
        run(&mut createdb);
        Some(pg)
    }

    /// `postgres://berth:<password>@127.0.0.1:<port>/berth`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{DATABASE}",
            self.password, self.port
        )
    }

    /// The URL without its password, for tests that pass the password another way.
    pub fn url_without_password(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's own log (startup and shutdown lines, errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Command running `program` as the server's OS user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if !running_as_root() {
            return Command::new(path);
        }
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(path);
        cmd
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn init(&self) {
        let pwfile = self.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.password)).unwrap();
        if running_as_root() {
            chown_postgres(self.dir.path());
            chown_postgres(&pwfile);
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ])
            // No fsync: a test server's data may be lost on a power cut.
            .arg("--no-sync")
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut initdb);
        std::fs::remove_file(pwfile).unwrap();
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut postgres = self.command("postgres");
        postgres
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=60"])
            .args(self.tls_args())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(postgres.spawn().expect("start postgres"));
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("postgres exited ({status}) at start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready within 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The CA file that verifies the server's certificate (TLS servers only).
    pub fn tls_ca(&self) -> &Path {
        self.tls_ca.as_deref().expect("started without TLS")
    }

    /// How many of the connections named `application` use TLS, and how many do not.
    pub fn connections_by_tls(&self, application: &str) -> (u64, u64) {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.application_name = '{application}'"
        );
        let out = super::stdout_of(
            Command::new(self.bin.join("psql"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
                .args(["-d", DATABASE, "-At", "-F", " ", "-c", &sql])
                .env("PGPASSWORD", &self.password)
                .env("PGSSLMODE", "disable"),
        );
        let mut counts = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        (counts.next().unwrap(), counts.next().unwrap())
    }

    /// A server certificate from a fresh test CA, readable by the server only.
    fn make_tls_files(&mut self) {
        let tls = self.dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        super::certs::make_certs(&tls);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            tls.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        if running_as_root() {
            chown_postgres(&tls);
            chown_postgres(&tls.join("server.key"));
            chown_postgres(&tls.join("server.pem"));
        }
        self.tls_ca = Some(tls.join("ca.pem"));
    }

    fn tls_args(&self) -> Vec<String> {
        let Some(ca) = &self.tls_ca else {
            return Vec::new();
        };
        let dir = ca.parent().unwrap();
        vec![
            "-c".into(),
            "ssl=on".into(),
            "-c".into(),
            format!("ssl_cert_file={}", dir.join("server.pem").display()),
            "-c".into(),
            format!("ssl_key_file={}", dir.join("server.key").display()),
        ]
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.wait();
    }

    /// Starts the stopped server again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
        self.wait_ready();
    }
}

fn chown_postgres(path: &Path) {
    run(Command::new("chown").arg("postgres:postgres").arg(path));
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
