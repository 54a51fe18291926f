//! Progress of the content copy: counters updated by the copier (atomics: many transfers
//! update them at once) and a line printed on stderr every few seconds and at the end:
//! repositories, images, blobs, bytes, rate and ETA.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::mib;

/// Shared counters.
pub struct Progress {
    started: Instant,
    pub repositories_total: AtomicU64,
    pub repositories_done: AtomicU64,
    pub images_total: AtomicU64,
    pub images_done: AtomicU64,
    pub blobs_total: AtomicU64,
    pub blobs_copied: AtomicU64,
    pub blobs_mounted: AtomicU64,
    pub blobs_present: AtomicU64,
    pub bytes_total: AtomicU64,
    /// Bytes sent to the target.
    pub bytes_copied: AtomicU64,
    /// Bytes of blobs found already there or mounted (count towards "done", not the rate).
    pub bytes_skipped: AtomicU64,
}

impl Progress {
    pub fn new() -> Arc<Self> {
        Arc::new(Progress {
            started: Instant::now(),
            repositories_total: AtomicU64::new(0),
            repositories_done: AtomicU64::new(0),
            images_total: AtomicU64::new(0),
            images_done: AtomicU64::new(0),
            blobs_total: AtomicU64::new(0),
            blobs_copied: AtomicU64::new(0),
            blobs_mounted: AtomicU64::new(0),
            blobs_present: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            bytes_copied: AtomicU64::new(0),
            bytes_skipped: AtomicU64::new(0),
        })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One progress line.
    pub fn line(&self) -> String {
        let copied = self.bytes_copied.load(Relaxed);
        let done = copied + self.bytes_skipped.load(Relaxed);
        let total = self.bytes_total.load(Relaxed).max(done);
        let secs = self.elapsed().as_secs_f64().max(0.001);
        let rate = copied as f64 / secs;
        let eta = if rate > 0.0 {
            format!("{:.0} s", (total - done) as f64 / rate)
        } else {
            "-".to_string()
        };
        // Distinct blobs: each is copied or found once; mounts into further images are
        // extra operations on a blob already counted.
        let blobs_done = self.blobs_copied.load(Relaxed) + self.blobs_present.load(Relaxed);
        format!(
            "import: repositories {}/{} | images {}/{} | blobs {}/{} (copied {}, mounted {}, already there {}) | {} / {} | {}/s | ETA {eta}",
            self.repositories_done.load(Relaxed),
            self.repositories_total.load(Relaxed),
            self.images_done.load(Relaxed),
            self.images_total.load(Relaxed),
            blobs_done,
            self.blobs_total.load(Relaxed),
            self.blobs_copied.load(Relaxed),
            self.blobs_mounted.load(Relaxed),
            self.blobs_present.load(Relaxed),
            mib(done),
            mib(total),
            mib(rate as u64),
        )
    }

    /// Prints a line every `every` until the returned guard is dropped.
    pub fn spawn_printer(self: &Arc<Self>, every: Duration) -> Printer {
        let progress = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("{}", progress.line());
            }
        });
        Printer {
            task,
            progress: self.clone(),
        }
    }
}

/// Stops the periodic line and prints the final one when dropped.
pub struct Printer {
    task: tokio::task::JoinHandle<()>,
    progress: Arc<Progress>,
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.task.abort();
        eprintln!("{}", self.progress.line());
    }
}
