//! Hardening: what a hostile client, an unlucky operator or a crowd of clients could do to
//! Berth, each as a black-box test against the real binary (issue 13).

#[path = "../common/mod.rs"]
mod common;

mod integrity;
mod memory;
