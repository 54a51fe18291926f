//! Driving external programs (clients, servers, tools): running commands with readable
//! failures, and refusing to skip silently when a client is missing.

use std::process::{Command, Output, Stdio};

/// Runs `cmd`, panicking with its command line, stdout and stderr unless it exits 0.
pub fn run(cmd: &mut Command) -> Output {
    let out = output_of(cmd);
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    out
}

/// Runs `cmd` and returns its output whatever the exit status.
pub fn output_of(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)))
}

/// Runs `cmd` with `input` on its stdin (a password, never on the command line) and returns
/// its output whatever the exit status.
pub fn output_with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    // Small inputs only: written before reading, which a full pipe would block.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `cmd` and returns its stdout as text; panics unless it exits 0.
pub fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("UTF-8 output")
}

fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// True if a client test should run. When the client is missing the test fails, unless
/// `skip_var=1` is set in the environment, in which case it is skipped with a note.
pub fn client_present(available: bool, client: &str, skip_var: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var(skip_var).as_deref() == Ok("1") {
        eprintln!("SKIPPED: {client} is not available and {skip_var}=1");
        return false;
    }
    panic!(
        "{client} is not available on this machine: run scripts/install-test-deps.sh \
         (or set {skip_var}=1 to skip this test deliberately)"
    );
}

/// A name part unique to this test run and server: `<tag>-<port>-<pid>`.
pub fn unique(tag: &str, addr: &str) -> String {
    let port = addr.rsplit(':').next().unwrap_or("0");
    format!("{tag}-{port}-{}", std::process::id())
}
