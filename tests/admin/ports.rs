//! Connector ports set over REST open and close at once, without a restart.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn a_connector_port_answers_right_after_create_and_refuses_connections_after_delete() {
    let app = spawn_app().await;
    let port = free_port();

    create(&app, "hosted", &hosted_body("h", "default", Some(port))).await;

    assert_eq!(v2_status(port).await, Some(200));
    let (_, got) = app.get_json(&format!("{HOSTED}/h")).await;
    assert_eq!(got["docker"]["httpPort"], port);

    assert_eq!(app.delete(&format!("{REPOS}/h")).await, 204);

    assert_eq!(v2_status(port).await, None, "port {port} still answers");
}

#[tokio::test]
async fn an_image_pushed_on_the_main_port_is_served_on_the_connector_port() {
    let app = spawn_app().await;
    let port = free_port();
    create(
        &app,
        "group",
        &group_body("g", &["docker-hosted"], None, Some(port)),
    )
    .await;
    let (digest, _) = app.push_image("app", "1", "connector").await;

    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/v2/app/manifests/1"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);
}

#[tokio::test]
async fn changing_the_port_moves_the_connector_and_removing_it_closes_it() {
    let app = spawn_app().await;
    let (first, second) = (free_port(), free_port());
    create(&app, "hosted", &hosted_body("h", "default", Some(first))).await;
    let path = format!("{HOSTED}/h");

    let r = app
        .send_json(
            Method::PUT,
            &path,
            &hosted_body("h", "default", Some(second)),
        )
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(v2_status(second).await, Some(200));
    assert_eq!(v2_status(first).await, None, "old port still open");

    // The same port again is not "in use" by itself.
    let r = app
        .send_json(
            Method::PUT,
            &path,
            &hosted_body("h", "default", Some(second)),
        )
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(v2_status(second).await, Some(200));

    let r = app
        .send_json(Method::PUT, &path, &hosted_body("h", "default", None))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(v2_status(second).await, None, "removed port still open");
    assert_eq!(
        app.get_json(&path).await.1["docker"]["httpPort"],
        json!(null)
    );
}

#[tokio::test]
async fn a_connector_port_created_over_rest_opens_again_after_a_restart() {
    let mut app = spawn_app().await;
    let port = free_port();
    create(&app, "hosted", &hosted_body("h", "default", Some(port))).await;

    app.restart().await;

    assert_eq!(v2_status(port).await, Some(200));
}

#[tokio::test]
async fn a_port_already_in_use_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let before = snapshot(&app).await;

    let r = app
        .send_json(
            Method::POST,
            HOSTED,
            &hosted_body("h", "default", Some(port)),
        )
        .await;

    let message = assert_invalid(r, "docker.httpPort").await;
    assert!(message.contains(&port.to_string()), "{message}");
    assert_eq!(snapshot(&app).await, before);
    // The same refusal on update, which keeps the old definition.
    let r = app
        .send_json(
            Method::PUT,
            &format!("{HOSTED}/docker-hosted"),
            &hosted_body("docker-hosted", "default", Some(port)),
        )
        .await;
    assert_invalid(r, "docker.httpPort").await;
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn the_main_port_or_another_repositorys_port_is_refused() {
    let app = spawn_app().await;
    let port = free_port();
    create(&app, "hosted", &hosted_body("h", "default", Some(port))).await;
    let main: u16 = app.addr.rsplit(':').next().unwrap().parse().unwrap();
    let before = snapshot(&app).await;

    for taken in [port, main] {
        let r = app
            .send_json(
                Method::POST,
                GROUP,
                &group_body("g", &["h"], None, Some(taken)),
            )
            .await;
        assert_invalid(r, "docker.httpPort").await;
    }

    assert_eq!(snapshot(&app).await, before);
    assert_eq!(v2_status(port).await, Some(200), "h's port must stay open");
}
