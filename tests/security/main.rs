//! Security (issue 5) from outside: bootstrap, users/roles/privileges over the Nexus REST
//! API, Basic auth and the authorization table, anonymous pull, the Docker token realm
//! (with forged, expired and revoked tokens), and the real docker CLI and skopeo.

#[path = "../common/mod.rs"]
mod common;

mod basic;
mod clients;
mod support;
mod tags_and_mounts;
mod tls;
mod tokens;
