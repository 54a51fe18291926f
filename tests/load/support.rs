//! Runs `berth-load` against a test app and reads its JSON report.

use std::process::{Command, Output};

use serde_json::Value;

use crate::common::TestApp;

/// Small layers: the default image shape (4 KiB … 64 MiB) scaled down.
pub const LAYERS: &str = "4K,32K,256K,1M,3M";

/// The outcome of one `berth-load` run.
pub struct Run {
    pub output: Output,
    pub report: Value,
}

impl Run {
    /// The named row of the report (panics with the whole report if it is missing).
    pub fn op(&self, name: &str) -> &Value {
        self.report["ops"]
            .as_array()
            .and_then(|ops| ops.iter().find(|o| o["op"] == name))
            .unwrap_or_else(|| panic!("no {name:?} row in {:#}", self.report))
    }

    pub fn requests(&self, name: &str) -> u64 {
        self.op(name)["requests"].as_u64().unwrap()
    }

    /// Asserts success: exit 0 and no error anywhere in the report.
    pub fn assert_clean(&self) {
        assert!(
            self.output.status.success() && self.report["errors"] == 0,
            "berth-load failed ({}):\n{}\n{}",
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        );
    }
}

/// `berth-load <args…> --url <app> --json <tmp>` (`args` split at white space), waited for
/// on the blocking pool.
pub async fn berth_load(app: &TestApp, args: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth-load"));
    cmd.args(args.split_whitespace())
        .arg("--url")
        .arg(&app.base)
        .arg("--json")
        .arg(&json)
        .args(["--progress", "0"])
        .env_remove("BERTH_LOAD_USER")
        .env_remove("BERTH_LOAD_PASSWORD");
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("run berth-load"))
        .await
        .unwrap();
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Run { output, report }
}
