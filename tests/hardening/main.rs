//! Hardening: what a hostile client, an unlucky operator or a crowd of clients could do to
//! Berth, each as a black-box test against the real binary (issue 13): a server whose log
//! cannot be written, idle upload sessions under a low `ulimit -n`, stalled request bodies,
//! memory amplification, integrity checks, and a hostile mix of all of them at once.

#[path = "../common/mod.rs"]
mod common;

mod fds;
mod hostile_mix;
mod integrity;
mod logging;
mod memory;
mod support;
mod uploads;
