//! Per-operation figures: latency histogram (µs), bytes, errors; the summary table and JSON.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Errors kept verbatim for the report; the rest are only counted.
const KEPT_ERRORS: usize = 5;

struct Op {
    latency_us: Histogram<u64>,
    bytes: u64,
    errors: u64,
    /// Sum of latencies, for the throughput of one request (a big push's MB/s).
    busy: Duration,
}

impl Op {
    fn new() -> Self {
        Op {
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds"),
            bytes: 0,
            errors: 0,
            busy: Duration::ZERO,
        }
    }
}

/// Shared by every client of a run.
#[derive(Clone)]
pub struct Stats {
    ops: Arc<Mutex<BTreeMap<&'static str, Op>>>,
    first_errors: Arc<Mutex<Vec<String>>>,
    /// Live counters for the progress line.
    pub requests: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    pub bytes: Arc<AtomicU64>,
    pub verified: Arc<AtomicU64>,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            ops: Arc::default(),
            first_errors: Arc::default(),
            requests: Arc::default(),
            errors: Arc::default(),
            bytes: Arc::default(),
            verified: Arc::default(),
        }
    }

    /// One successful operation of `op` that took `took` and moved `bytes`.
    pub fn ok(&self, op: &'static str, took: Duration, bytes: u64) {
        let us = (took.as_micros() as u64).max(1);
        let mut ops = self.ops.lock().unwrap();
        let o = ops.entry(op).or_insert_with(Op::new);
        o.latency_us.saturating_record(us);
        o.bytes += bytes;
        o.busy += took;
        drop(ops);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One failed operation of `op`.
    pub fn error(&self, op: &'static str, what: String) {
        self.ops
            .lock()
            .unwrap()
            .entry(op)
            .or_insert_with(Op::new)
            .errors += 1;
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.first_errors.lock().unwrap();
        if kept.len() < KEPT_ERRORS {
            kept.push(format!("{op}: {what}"));
        }
    }

    /// A blob or manifest whose bytes matched its digest.
    pub fn verified(&self) {
        self.verified.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The report: one row per operation over `elapsed`.
    pub fn report(&self, scenario: &str, elapsed: Duration, params: Value) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ops = self.ops.lock().unwrap();
        let rows = ops
            .iter()
            .map(|(name, o)| {
                let n = o.latency_us.len();
                let q = |p: f64| {
                    if n == 0 {
                        0.0
                    } else {
                        o.latency_us.value_at_quantile(p) as f64 / 1000.0
                    }
                };
                Row {
                    op: name.to_string(),
                    requests: n,
                    per_sec: n as f64 / secs,
                    mb_per_sec: o.bytes as f64 / secs / 1e6,
                    mb_per_sec_each: o.bytes as f64 / o.busy.as_secs_f64().max(1e-9) / 1e6,
                    bytes: o.bytes,
                    p50_ms: q(0.50),
                    p95_ms: q(0.95),
                    p99_ms: q(0.99),
                    max_ms: if n == 0 {
                        0.0
                    } else {
                        o.latency_us.max() as f64 / 1000.0
                    },
                    errors: o.errors,
                }
            })
            .collect();
        Report {
            scenario: scenario.to_string(),
            elapsed_s: secs,
            rows,
            verified: self.verified.load(Ordering::Relaxed),
            errors: self.total_errors(),
            first_errors: self.first_errors.lock().unwrap().clone(),
            params,
        }
    }

    /// Prints a progress line to stderr every `every` until the returned guard drops.
    pub fn progress(&self, label: String, every: Duration) -> ProgressGuard {
        let stats = self.clone();
        let start = Instant::now();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "[{label} {:>5.0}s] {} requests, {:.0} MB, {} verified, {} errors",
                    start.elapsed().as_secs_f64(),
                    stats.requests.load(Ordering::Relaxed),
                    stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
                    stats.verified.load(Ordering::Relaxed),
                    stats.errors.load(Ordering::Relaxed),
                );
            }
        });
        ProgressGuard(handle)
    }
}

/// Stops the progress line when dropped.
pub struct ProgressGuard(tokio::task::JoinHandle<()>);

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Row {
    pub op: String,
    pub requests: u64,
    pub per_sec: f64,
    pub mb_per_sec: f64,
    /// MB/s of one request while it ran (bytes over the sum of latencies).
    pub mb_per_sec_each: f64,
    pub bytes: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
}

/// What one scenario run measured.
pub struct Report {
    pub scenario: String,
    pub elapsed_s: f64,
    pub rows: Vec<Row>,
    pub verified: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub params: Value,
}

impl Report {
    pub fn print_table(&self) {
        println!(
            "scenario {} — {:.1} s, {} objects verified, {} errors",
            self.scenario, self.elapsed_s, self.verified, self.errors
        );
        println!(
            "{:<17} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "op",
            "requests",
            "req/s",
            "MB/s",
            "MB/s/req",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors"
        );
        for r in &self.rows {
            println!(
                "{:<17} {:>9} {:>10.1} {:>9.1} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>7}",
                r.op,
                r.requests,
                r.per_sec,
                r.mb_per_sec,
                r.mb_per_sec_each,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.max_ms,
                r.errors
            );
        }
        for e in &self.first_errors {
            println!("  error: {e}");
        }
    }

    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "op": r.op, "requests": r.requests, "per_sec": r.per_sec, "mb_per_sec": r.mb_per_sec,
                    "mb_per_sec_each": r.mb_per_sec_each,
                    "bytes": r.bytes, "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "p99_ms": r.p99_ms,
                    "max_ms": r.max_ms, "errors": r.errors,
                })
            })
            .collect();
        json!({
            "scenario": self.scenario, "elapsed_s": self.elapsed_s, "verified": self.verified,
            "errors": self.errors, "first_errors": self.first_errors, "params": self.params, "ops": rows,
        })
    }
}
