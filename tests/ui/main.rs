//! The web UI, black-box: a real Berth, a real headless Chromium over WebDriver
//! (`browser`), the real docker CLI, and raw HTTP for what a browser would not send
//! (forged cross-site posts, missing CSRF tokens).

#[path = "../common/mod.rs"]
mod common;

mod activity;
mod admin_edit;
mod browser;
mod forwarded;
mod guard;
mod seeds;
mod session;
mod sparse;
mod usage;
