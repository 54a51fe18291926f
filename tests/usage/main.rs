//! Usage thresholds of a real server: requests per rolling 24 h and components, with the
//! `observe`, `warn` and `enforce` actions, across restarts.

#[path = "../common/mod.rs"]
mod common;

mod thresholds;
mod window;
