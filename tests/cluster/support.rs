//! The cluster under test and what the scenarios ask of it.

use reqwest::Method;

use crate::common::cluster::Cluster;
use crate::common::nginx::{Nginx, SHIPPED_NODES};
use crate::common::*;

/// A cluster of three nodes and nginx in front. Fields drop in reverse order: nginx first.
pub struct Fronted {
    pub nginx: Nginx,
    /// Requests through nginx, with every `TestApp` helper.
    pub front: TestApp,
    pub cluster: Cluster,
}

/// Three nodes on PostgreSQL and Garage (`extra_toml` appended to their configuration),
/// nginx in front; `None` when a `BERTH_SKIP_*` switch says to skip.
pub async fn fronted(extra_toml: &str) -> Option<Fronted> {
    let cluster = Cluster::start(SHIPPED_NODES, extra_toml).await?;
    let nodes: Vec<&TestApp> = cluster.nodes.iter().collect();
    let nginx = Nginx::start(&nodes).await?;
    let front = nginx.front();
    Some(Fronted {
        nginx,
        front,
        cluster,
    })
}

impl Fronted {
    /// The node logs and nginx's error log, for assertion messages.
    pub fn logs(&self) -> String {
        format!("{}--- nginx ---\n{}", self.cluster.logs(), self.nginx.log())
    }
}

/// The session id of an upload `Location` (`…/blobs/uploads/<id>`).
pub fn session_id(location: &str) -> String {
    location_path(location)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// The index of the node holding the session at `location`, from its `<node_id>.` prefix.
pub fn session_node(location: &str) -> usize {
    let id = session_id(location);
    let (node, uuid) = id
        .split_once('.')
        .unwrap_or_else(|| panic!("session id {id} has no node prefix"));
    assert_eq!(uuid.len(), 36, "{id}: node id, dot, uuid");
    (0..SHIPPED_NODES)
        .find(|&i| Cluster::node_id(i) == node)
        .unwrap_or_else(|| panic!("session {id} names no node of the cluster"))
}

/// `GET` of a blob at `app`; its status and body.
pub async fn get_blob(app: &TestApp, name: &str, digest: &str) -> (u16, Vec<u8>) {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

/// `GET` of a manifest at `app`; its status and body.
pub async fn get_manifest(app: &TestApp, name: &str, reference: &str) -> (u16, Vec<u8>) {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
        .header("Accept", format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

/// Asserts that `image` pulls completely and byte for byte through `app`.
pub async fn assert_pulls(app: &TestApp, name: &str, reference: &str, image: &Image) {
    let (status, body) = get_manifest(app, name, reference).await;
    assert_eq!(status, 200, "manifest {name}:{reference}");
    assert_eq!(body, image.manifest, "manifest {name}:{reference}");
    for (digest, bytes) in image.blobs() {
        let (status, body) = get_blob(app, name, digest).await;
        assert_eq!(status, 200, "blob {digest} of {name}:{reference}");
        assert_eq!(&body, bytes, "blob {digest} of {name}:{reference}");
    }
}
