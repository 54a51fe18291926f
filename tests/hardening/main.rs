//! Hardening (issue 13) from outside: a server whose log cannot be written, a crowd of
//! idle upload sessions under a low `ulimit -n`, stalled request bodies, and a hostile mix
//! of all of them at once.

#[path = "../common/mod.rs"]
mod common;

mod fds;
mod hostile_mix;
mod logging;
mod support;
mod uploads;
