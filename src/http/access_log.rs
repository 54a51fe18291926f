//! The access log: one `info` line per logged request on target `berth::access`, with
//! method, route family, repository, status, response bytes, duration, client address and
//! user. Never the path's query, headers, tokens or passwords: the route family and the
//! repository say what was asked without carrying anything secret.
//!
//! On by default in `sampled` mode, which must cost nothing measurable on the warm manifest
//! path: a successful request costs one relaxed atomic increment, and a line is written for
//! one in `log.access_sample` of them. Every 4xx/5xx is logged, up to
//! [`ERRORS_PER_SECOND`]; past that (a login flood, a broken client in a loop) the rest are
//! counted and summarized in one line when the next second starts. `full` logs every request;
//! `off` none. The decision needs no allocation; only a line actually written allocates.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::auth::Principal;
pub use crate::telemetry::AccessLogMode;

/// Error responses logged per second before the rest are summarized.
pub const ERRORS_PER_SECOND: u64 = 50;

struct Policy {
    mode: AccessLogMode,
    sample: u64,
}

static POLICY: OnceLock<Policy> = OnceLock::new();
static SUCCESSES: AtomicU64 = AtomicU64::new(0);
/// `(second << 32) | errors logged in it`: one word, so the budget needs no lock.
static ERROR_WINDOW: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Sets the policy once at start (later calls are ignored; tests start one server per
/// process).
pub fn configure(mode: AccessLogMode, sample: u64) {
    let _ = POLICY.set(Policy {
        mode,
        sample: sample.max(1),
    });
}

/// Whether a request answered `status` is logged. Cheap when it is not.
pub fn wanted(status: u16) -> bool {
    let policy = POLICY.get_or_init(|| Policy {
        mode: AccessLogMode::Sampled,
        sample: 1000,
    });
    match policy.mode {
        AccessLogMode::Off => false,
        AccessLogMode::Full => true,
        AccessLogMode::Sampled if status < 400 => {
            SUCCESSES.fetch_add(1, Ordering::Relaxed) % policy.sample == 0
        }
        AccessLogMode::Sampled => error_budget(),
    }
}

/// Takes one slot of this second's error budget; summarizes the previous second's overflow.
fn error_budget() -> bool {
    let second = (crate::clock::now() as u64) & 0xffff_ffff;
    let current = ERROR_WINDOW.load(Ordering::Relaxed);
    let new_second = current >> 32 != second;
    if new_second
        && ERROR_WINDOW
            .compare_exchange(
                current,
                (second << 32) | 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        let dropped = SUPPRESSED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::info!(target: "berth::access", suppressed = dropped,
                "{dropped} more error responses were not logged (over {ERRORS_PER_SECOND} a second)");
        }
        return true;
    }
    let logged = ERROR_WINDOW.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
    if logged < ERRORS_PER_SECOND {
        return true;
    }
    SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    false
}

/// What one line says.
pub struct Entry<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub repository: Option<&'a str>,
    pub status: u16,
    pub bytes: u64,
    pub duration: Duration,
    /// Behind a trusted proxy, the address it forwarded for (`http::client_addr`).
    pub client: Option<IpAddr>,
    pub principal: Option<&'a Principal>,
}

/// Writes the line.
pub fn write(e: &Entry) {
    let user = match e.principal {
        Some(Principal::User(id)) => &**id,
        Some(Principal::Token(claims)) => claims.sub.as_deref().unwrap_or("anonymous"),
        Some(Principal::Anonymous) => "anonymous",
        None => "-",
    };
    tracing::info!(
        target: "berth::access",
        method = e.method,
        route = e.route,
        repository = e.repository.unwrap_or("-"),
        status = e.status,
        bytes = e.bytes,
        duration_ms = e.duration.as_secs_f64() * 1000.0,
        client = %e.client.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        user,
        "request"
    );
}
