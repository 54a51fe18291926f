//! The Nexus-shaped admin REST API (`/service/rest/v1/…`) from outside: repositories, blob
//! stores, connector ports, components and assets, access control, and seed 001's Docker
//! set-up done entirely over REST and then used with the real `docker` CLI.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod bad_input;
mod blob_stores;
mod components;
mod ports;
mod repositories;
mod seed001;
mod support;
