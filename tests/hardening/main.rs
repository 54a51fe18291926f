//! Hardening (issue 13) from outside: a crowd of clients, hostile logins, tokens that must
//! die, and the data directory's secrets.

#[path = "../common/mod.rs"]
mod common;
#[path = "../security/support.rs"]
#[allow(dead_code)]
mod security_support;

mod auth_data_dir;
mod auth_logins;
mod auth_tokens;
