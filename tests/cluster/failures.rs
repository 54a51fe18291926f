//! What a cluster must survive: two nodes racing on one tag, a node killed mid-push, the S3
//! store going away and coming back, and a client whose token came from another node.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const ALLOW_ONCE: &str = r#"
[[repositories]]
name = "once"
type = "hosted"
blob_store = "s3"
write_policy = "ALLOW_ONCE"
"#;

#[tokio::test]
async fn two_nodes_racing_pushes_to_one_allow_once_tag_give_one_winner_and_one_clear_403() {
    let Some(c) = fronted(ALLOW_ONCE).await else {
        return;
    };
    let (a, b) = (c.cluster.node(0), c.cluster.node(1));
    for round in 0..5 {
        // One image per round: the third node reads it for the first time each round, so
        // what it answers comes from the database (nodes do not yet tell each other about
        // writes, README "Running several nodes").
        let repo = format!("/repository/once/v2/race/app{round}");
        let repo = repo.as_str();
        let tag = "latest-build".to_string();
        let (on_a, on_b) = (
            Image::seeded(&format!("a{round}")),
            Image::seeded(&format!("b{round}")),
        );
        let (ra, rb) = tokio::join!(
            push_with(|m, p| a.req(m, p), repo, &tag, &on_a),
            push_with(|m, p| b.req(m, p), repo, &tag, &on_b),
        );
        let (won, lost, winner) = match (ra.status().as_u16(), rb.status().as_u16()) {
            (201, _) => (ra, rb, &on_a),
            (_, 201) => (rb, ra, &on_b),
            (x, y) => panic!("round {round}: nobody won ({x}, {y}):\n{}", c.logs()),
        };
        assert_eq!(won.status(), 201);
        let body = assert_oci_error(lost, 403, "DENIED").await;
        assert!(body.to_string().contains("ALLOW_ONCE"), "{body}");
        // Whoever asks (the third node, never involved), the tag is the winner's.
        let third = c.cluster.node(2);
        let r = third
            .req(Method::GET, &format!("{repo}/manifests/{tag}"))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "docker-content-digest"), winner.digest);
    }
}

#[tokio::test]
async fn a_node_killed_mid_push_loses_nothing_acknowledged_and_the_retry_through_nginx_succeeds() {
    let Some(mut c) = fronted("").await else {
        return;
    };
    // Acknowledged before the kill: pushed through nginx, spread over the nodes.
    let before: Vec<Image> = (0..3)
        .map(|i| Image::seeded(&format!("before the kill {i}")))
        .collect();
    for (i, image) in before.iter().enumerate() {
        c.front.push(&format!("kill/before{i}"), "1", image).await;
    }
    // A chunked push in progress.
    let bytes = noise(9, 600_000);
    let location = c.front.start_upload("kill/app").await;
    let location = c.front.patch_upload(&location, &bytes[..200_000]).await;
    let holder = session_node(&location);

    c.cluster.nodes[holder].kill9();

    // The next chunk goes to a backup node, which has no such session: a clean 404.
    let r = c
        .front
        .req(Method::PATCH, &location)
        .header("Content-Range", "200000-399999")
        .body(bytes[200_000..400_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    // The client starts the blob again, through nginx, on a live node.
    let digest = c.front.push_blob_chunked("kill/app", &bytes, 200_000).await;
    let (status, body) = get_blob(&c.front, "kill/app", &digest).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    assert!(
        c.nginx.log().contains("connect() failed"),
        "nginx never noticed the dead node"
    );
    // Everything acknowledged before the kill is in the database and the bucket: the
    // surviving nodes, restarted with empty caches, serve all of it.
    for n in (0..c.cluster.nodes.len()).filter(|&n| n != holder) {
        c.cluster.nodes[n].restart().await;
        for (i, image) in before.iter().enumerate() {
            assert_pulls(c.cluster.node(n), &format!("kill/before{i}"), "1", image).await;
        }
    }
}

#[tokio::test]
async fn garage_stopped_gives_a_503_naming_the_store_and_its_restart_recovers() {
    let Some(mut c) = fronted("").await else {
        return;
    };
    // Pushed through one node: the others read the image from the database when first
    // asked, so every node knows the blob and only the store can fail it.
    let image = Image::seeded("before the outage");
    c.cluster.node(0).push("outage/app", "1", &image).await;
    let (layer, bytes) = image.layer().clone();

    c.cluster.garage.stop();
    // Every node says which store is down, whichever nginx picks.
    for (n, app) in c.cluster.nodes.iter().enumerate() {
        let r = app
            .req(Method::GET, &format!("/v2/outage/app/blobs/{layer}"))
            .send()
            .await
            .unwrap();
        let body = assert_oci_error(r, 503, "UNAVAILABLE").await.to_string();
        assert!(body.contains("blob store s3"), "node {n}: {body}");
        assert!(
            !body.contains(&c.cluster.garage.secret_key),
            "node {n}: {body}"
        );
    }
    let r = c
        .front
        .req(
            Method::POST,
            &format!("/v2/outage/app/blobs/uploads/?digest={}", sha256(b"new")),
        )
        .body("new")
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 503, "UNAVAILABLE").await;

    c.cluster.garage.resume().await;
    let (status, body) = get_blob(&c.front, "outage/app", &layer).await;
    assert_eq!(status, 200, "{}", c.logs());
    assert_eq!(body, bytes);
    // Writes work again: a blob pushed through nginx is served by every node.
    let after = b"pushed after the outage";
    let digest = c.front.push_blob("outage/after", after).await;
    for (n, app) in c.cluster.nodes.iter().enumerate() {
        let (status, body) = get_blob(app, "outage/after", &digest).await;
        assert_eq!(status, 200, "node {n}");
        assert_eq!(body, after);
    }
}

const SECURE: &str = r#"
[security]
enabled = true
initial_admin_password = "Cluster-Admin-Pw-1"
"#;

/// Activates the Docker token realm (the admin API of `node`).
async fn activate_token_realm(node: &TestApp) {
    let r = node
        .req(Method::PUT, "/service/rest/v1/security/realms/active")
        .basic_auth("admin", Some("Cluster-Admin-Pw-1"))
        .header("Content-Type", "application/json")
        .body(r#"["NexusAuthenticatingRealm","NexusAuthorizingRealm","DockerToken"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn token_from(app: &TestApp, scope: &str) -> String {
    let r = app
        .req(
            Method::GET,
            &format!("/v2/token?service=berth&scope={scope}"),
        )
        .basic_auth("admin", Some("Cluster-Admin-Pw-1"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    body["token"].as_str().expect("a token").to_string()
}

#[tokio::test]
async fn a_token_issued_by_one_node_is_accepted_by_the_others_and_the_realm_names_the_proxy() {
    let Some(mut c) = fronted(SECURE).await else {
        return;
    };
    activate_token_realm(c.cluster.node(0)).await;
    // Nodes read the security model at start (until changes are broadcast, README "Running
    // several nodes"): restart the others so all three have the realm on.
    for i in 1..c.cluster.nodes.len() {
        c.cluster.nodes[i].restart().await;
    }
    let token = token_from(c.cluster.node(0), "repository:tok/app:pull,push").await;
    for i in 1..c.cluster.nodes.len() {
        let node = c.cluster.node(i);
        let image = Image::seeded(&format!("token on node {i}"));
        let r = push_with(
            |m, p| node.req(m, p).bearer_auth(&token),
            "/v2/tok/app",
            &format!("n{i}"),
            &image,
        )
        .await;
        expect_status(r, 201, &format!("push on node {i} with node 0's token")).await;
    }
    // A node with another signing key refuses the same token: the key is what is shared.
    let other_key = c.cluster.secrets_dir().join("other-token.key");
    std::fs::write(&other_key, "another key, long enough to sign tokens with\n").unwrap();
    let env = format!("BERTH_SECURITY__TOKEN_KEY_FILE={}", other_key.display());
    let stranger = c.cluster.add_node(&[env.as_str()]).await;
    let r = c
        .cluster
        .node(stranger)
        .req(Method::GET, "/v2/tok/app/manifests/n1")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a token signed with another key was accepted"
    );
    // Through nginx the challenge names nginx's address, not a node's.
    let r = c.front.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate");
    let realm = format!("Bearer realm=\"http://{}/v2/token\"", c.nginx.addr);
    assert!(challenge.starts_with(&realm), "{challenge}");
}
