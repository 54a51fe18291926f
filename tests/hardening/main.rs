//! Hardening: what a hostile client, an unlucky operator or a crowd of clients could do to
//! Berth, each as a black-box test against the real binary (issue 13): a server whose log
//! cannot be written, idle upload sessions under a low `ulimit -n`, stalled request bodies,
//! memory amplification, integrity checks, hostile logins, tokens that must die, the data
//! directory's secrets, and a hostile mix of all of them at once.

#[path = "../common/mod.rs"]
mod common;
#[path = "../security/support.rs"]
#[allow(dead_code)]
mod security_support;

mod auth_data_dir;
mod auth_logins;
mod auth_tokens;
mod client_addr;
mod fds;
mod forwarded_origin;
mod hostile_mix;
mod integrity;
mod logging;
mod memory;
mod support;
mod uploads;
