//! `berth gc` / `berth task`: start a task on the server, follow it to the end with a
//! progress line on standard error, and summarize its report for a human.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::AdminClient;

/// How often a running task is polled.
const POLL: Duration = Duration::from_millis(200);

/// Starts task `id` and waits for it; returns the task's final JSON (Nexus `TaskXO` plus
/// `lastRunReport`). While it runs, `progress` gets each new `berthProgress` line.
pub fn run_task(
    client: &AdminClient,
    id: &str,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Value> {
    let path = format!("/service/rest/v1/tasks/{id}");
    let reply = client.send(Method::POST, &format!("{path}/run"), None)?;
    match reply.status {
        StatusCode::NO_CONTENT => {}
        StatusCode::NOT_FOUND => bail!(
            "there is no task {id} on {} (list them: GET /service/rest/v1/tasks)",
            client.base()
        ),
        _ => bail!(
            "the server did not run task {id}: {}",
            client.explain(&reply)
        ),
    }
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let task = client
            .expect(Method::GET, &path, None, StatusCode::OK)?
            .json()?;
        if task["currentState"] == "WAITING" {
            return Ok(task);
        }
        if let Some(line) = task["berthProgress"].as_str() {
            if line != last {
                progress(line);
                last = line.to_string();
            }
        }
        if Instant::now() > deadline {
            bail!("task {id} is still running after {timeout:?}");
        }
        std::thread::sleep(POLL);
    }
}

/// A progress printer for standard error: rewrites one line on a terminal, prints one
/// line per change otherwise (logs, CI).
pub fn stderr_progress(id: &str) -> impl FnMut(&str) + '_ {
    let tty = std::io::stderr().is_terminal();
    move |line: &str| {
        let mut err = std::io::stderr().lock();
        let _ = match tty {
            true => write!(err, "\r\x1b[2K{id}: {line}"),
            false => writeln!(err, "{id}: {line}"),
        };
        let _ = err.flush();
    }
}

/// One human line per part of a finished task, e.g. `blob store default: deleted 3 blobs,
/// freed 12.0 KiB (scanned 10, 7 candidates, 4 kept on re-check) in 0.2 s`.
pub fn summary(task: &Value) -> String {
    let id = task["id"].as_str().unwrap_or("?");
    let result = task["lastRunResult"].as_str().unwrap_or("no result");
    let report = &task["lastRunReport"];
    let mut lines = vec![format!("task {id}: {result}")];
    if let Some(error) = report["error"].as_str() {
        lines.push(format!("  error: {error}"));
    }
    for gc in report.as_array().into_iter().flatten() {
        lines.push(format!(
            "  blob store {}: deleted {} blobs, freed {} (scanned {}, {} candidates, {} kept on re-check) in {:.1} s",
            gc["blobStore"].as_str().unwrap_or("?"),
            gc["blobsDeleted"],
            human_bytes(gc["bytesFreed"].as_u64().unwrap_or(0)),
            gc["blobsScanned"],
            gc["candidates"],
            gc["keptOnRecheck"],
            gc["durationMs"].as_u64().unwrap_or(0) as f64 / 1000.0,
        ));
    }
    if let Some(obj) = report.as_object().filter(|o| !o.contains_key("error")) {
        for (k, v) in obj {
            lines.push(format!("  {k}: {v}"));
        }
    }
    lines.join("\n")
}

/// Bytes in binary units with one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(131_072_000), "125.0 MiB");
    }

    #[test]
    fn a_gc_report_reads_as_one_line_per_store() {
        let task = serde_json::json!({"id":"blobstore.compact-default","lastRunResult":"OK",
            "lastRunReport":[{"blobStore":"default","blobsScanned":10,"candidates":7,
            "keptOnRecheck":4,"blobsDeleted":3,"bytesFreed":12288,"durationMs":200}]});
        let text = summary(&task);
        assert!(
            text.contains("task blobstore.compact-default: OK"),
            "{text}"
        );
        assert!(text.contains("deleted 3 blobs, freed 12.0 KiB"), "{text}");
    }
}
