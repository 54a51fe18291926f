//! Prometheus metrics of a real server: the series a push and a pull produce, label
//! cardinality under many distinct tags and digests, and a real Prometheus scraping Berth.

#[path = "../common/mod.rs"]
mod common;

#[path = "../security/support.rs"]
#[allow(dead_code)]
mod security_support;

mod cardinality;
mod dashboards;
mod prometheus;
mod secured;
mod series;
