//! Three Berth nodes behind nginx, as `docker-compose.cluster.yml` deploys them: one
//! PostgreSQL, one Garage S3 store, shared sealing and token keys, and the shipped
//! `packaging/nginx/berth-cluster.conf` in front (its node addresses filled in). Upload
//! sessions carry their node's id and nginx routes them back to it; everything else is
//! spread over the nodes.

#[path = "../common/mod.rs"]
mod common;

mod deployment;
mod failures;
mod protocol;
mod support;
