//! Durability: a `kill -9` in the middle of a push, restart, and nothing partial is visible.

#[path = "../common/mod.rs"]
mod common;

mod crash;
