//! The `docker` CLI for tests that drive the real Docker Engine.

use std::process::{Command, Output, Stdio};

/// True if a docker daemon is reachable. When it is not, the test fails, unless
/// `BERTH_SKIP_DOCKER=1` is set, in which case it is skipped with a note.
pub fn docker_present() -> bool {
    super::client_present(super::docker_available(), "docker", "BERTH_SKIP_DOCKER")
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
    let files = [
        ("hello.txt", format!("hello from {tag}\n").into_bytes()),
        ("noise.bin", super::noise(seed, noise_len)),
    ];
    build_scratch_files(context, tag, &files, "")
}

/// Writes `files` into the build context and a `FROM scratch` Dockerfile that copies each
/// into `dir` in its own layer (the first is the `CMD`); builds it offline as `tag`;
/// returns the image id.
pub fn build_scratch_files(
    context: &std::path::Path,
    tag: &str,
    files: &[(&str, Vec<u8>)],
    dir: &str,
) -> String {
    let mut dockerfile = String::from("FROM scratch\n");
    for (name, bytes) in files {
        std::fs::write(context.join(name), bytes).unwrap();
        dockerfile.push_str(&format!("COPY {name} {dir}/{name}\n"));
    }
    dockerfile.push_str(&format!("CMD [\"{dir}/{}\"]\n", files[0].0));
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    docker(&["build", "--force-rm", "-t", tag, context.to_str().unwrap()]);
    image_id(tag)
}

/// Login with the password on stdin (as CI does), never on the command line.
pub fn login(config: &std::path::Path, host: &str, user: &str, password: &str) -> Output {
    super::output_with_stdin(
        Command::new("docker").arg("--config").arg(config).args([
            "login",
            host,
            "-u",
            user,
            "--password-stdin",
        ]),
        password,
    )
}

/// `docker --config <config> args…` (stdin closed); its output, whatever the exit status.
pub fn docker_in(config: &std::path::Path, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start docker {args:?}: {e}"))
}

/// stdout and stderr of `out` as one text (docker writes progress to both).
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Panics with the output unless `what` succeeded; returns its text.
pub fn output_ok(out: Output, what: &str) -> String {
    let text = output_text(&out);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Panics with the output unless `what` failed; returns its text.
pub fn output_failed(out: Output, what: &str) -> String {
    let text = output_text(&out);
    assert!(!out.status.success(), "{what} should have failed:\n{text}");
    text
}

/// True if no local image answers to `reference`.
pub fn absent_locally(reference: &str) -> bool {
    !docker_output(&["image", "inspect", reference])
        .status
        .success()
}

/// Builds a one-layer `FROM scratch` image holding `hello.txt` with `text`, offline, as
/// `tag`; returns its image id.
pub fn build_text_image(tag: &str, text: &str) -> String {
    let context = tempfile::tempdir().expect("temp dir");
    let files = [("hello.txt", text.as_bytes().to_vec())];
    build_scratch_files(context.path(), tag, &files, "")
}

/// `docker --config <config> args…`; panics with its output unless it succeeds; returns
/// stdout and stderr as one text.
pub fn docker_in_ok(config: &std::path::Path, args: &[&str]) -> String {
    output_ok(docker_in(config, args), &format!("docker {args:?}"))
}
