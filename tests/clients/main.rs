//! Real clients against the real server: the Docker Engine CLI, skopeo and the `oci-client`
//! crate push and pull through Berth on 127.0.0.1.

#[path = "../common/mod.rs"]
mod common;

mod docker_cli;
mod oci_client;
mod skopeo;
