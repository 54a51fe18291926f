//! The `skopeo` CLI, with `--insecure-policy` so no `/etc/containers/policy.json` is needed.

use std::process::{Command, Output};

use super::{client_present, have, output_of, stdout_of};

/// True if skopeo is installed; panics if not, unless `BERTH_SKIP_SKOPEO=1`.
pub fn skopeo_present() -> bool {
    client_present(have("skopeo"), "skopeo", "BERTH_SKIP_SKOPEO")
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.arg("--insecure-policy").args(args);
    cmd
}

/// `skopeo --insecure-policy args…`; panics with its output unless it succeeds; returns
/// stdout.
pub fn skopeo(args: &[&str]) -> String {
    stdout_of(&mut command(args))
}

/// `skopeo --insecure-policy args…`; its output, whatever the exit status.
pub fn skopeo_output(args: &[&str]) -> Output {
    output_of(&mut command(args))
}
