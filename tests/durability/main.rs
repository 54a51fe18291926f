//! Durability: a `kill -9` in the middle of a push, a client that vanishes mid-request, a
//! completion with the wrong digest; after each, nothing partial is visible and what was
//! acknowledged before is intact.

#[path = "../common/mod.rs"]
mod common;

mod crash;
mod disconnect;
mod mismatch;
mod support;
