//! The `docker` CLI for tests that drive the real Docker Engine.

use std::process::{Command, Output, Stdio};

/// True if a docker daemon is reachable. When it is not, the test fails, unless
/// `BERTH_SKIP_DOCKER=1` is set, in which case it is skipped with a note.
pub fn docker_present() -> bool {
    if super::docker_available() {
        return true;
    }
    if std::env::var("BERTH_SKIP_DOCKER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: docker is not available and BERTH_SKIP_DOCKER=1");
        return false;
    }
    panic!(
        "docker is not available on this machine: run scripts/install-test-deps.sh \
         (or set BERTH_SKIP_DOCKER=1 to skip this test deliberately)"
    );
}

/// Runs `docker args…` (classic builder: no BuildKit, which would want to pull) and returns
/// its output, whatever the exit status.
pub fn docker_output(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start docker {args:?}: {e}"))
}

/// Runs `docker args…`; panics with its output unless it exits 0; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let out = docker_output(args);
    assert!(
        out.status.success(),
        "`docker {}` failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Removes the named local images when dropped, so a failing test leaves nothing behind.
pub struct LocalImages(pub Vec<String>);

impl LocalImages {
    pub fn add(&mut self, reference: &str) -> String {
        self.0.push(reference.to_string());
        reference.to_string()
    }
}

impl Drop for LocalImages {
    fn drop(&mut self) {
        for reference in self.0.iter().rev() {
            let _ = docker_output(&["rmi", "-f", reference]);
        }
    }
}

/// The local image id of `reference`.
pub fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "-f", "{{.Id}}", reference])
        .trim()
        .to_string()
}

/// Builds a two-layer `FROM scratch` image offline as `tag` (a text file and `noise_len`
/// bytes of seeded noise); returns its image id.
pub fn build_scratch_image(
    context: &std::path::Path,
    tag: &str,
    seed: u64,
    noise_len: usize,
) -> String {
    std::fs::write(context.join("hello.txt"), format!("hello from {tag}\n")).unwrap();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let noise: Vec<u8> = (0..noise_len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(context.join("noise.bin"), noise).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY noise.bin /noise.bin\nCMD [\"/hello.txt\"]\n",
    )
    .unwrap();
    docker(&["build", "--force-rm", "-t", tag, context.to_str().unwrap()]);
    image_id(tag)
}

/// Login with the password on stdin (as CI does), never on the command line.
pub fn login(config: &std::path::Path, host: &str, user: &str, password: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(["login", host, "-u", user, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
