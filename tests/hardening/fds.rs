//! Item 3: upload sessions hold no file descriptor while idle, are capped per repository
//! and per client with `429 TOOMANYREQUESTS`, and reads keep working under `ulimit -n 256`.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Descriptors of the server that point at upload temp files.
fn upload_fds(app: &TestApp) -> usize {
    fds_under(
        app.pid(),
        &app.data_dir().join("blobstores/default/uploads"),
    )
}

#[tokio::test]
async fn idle_upload_sessions_hold_no_file_descriptor() {
    // Arrange + Act: 40 sessions, each with a chunk written, then left idle.
    let app = spawn_app().await;
    for i in 0..40 {
        let (_, session) = open_session(&app, "idle/app").await;
        let r = app
            .req(Method::PATCH, &session.unwrap())
            .body(format!("chunk {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }

    // Assert
    assert_eq!(
        upload_fds(&app),
        0,
        "idle sessions keep their temp files open"
    );
}

#[tokio::test]
async fn three_hundred_upload_sessions_under_ulimit_256_get_202_or_429_and_stored_blobs_still_download(
) {
    // Arrange: a few stored blobs, on a server that may open 256 files in all.
    let app = spawn_app_with_nofile(256, &[]).await;
    let blobs: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| format!("stored blob {i}").into_bytes())
        .map(|b| (sha256(&b), b))
        .collect();
    for (_, bytes) in &blobs {
        app.push_blob("fds/app", bytes).await;
    }

    // Act: 300 session starts, 16 at a time, each followed by a first chunk.
    let statuses: Vec<u16> = futures_util::stream::iter(0..300)
        .map(|i| {
            let app = &app;
            async move {
                let (status, session) = open_session(app, "fds/app").await;
                if let Some(session) = session {
                    let r = app
                        .req(Method::PATCH, &session)
                        .body(format!("part {i}"))
                        .send()
                        .await
                        .unwrap();
                    return r.status().as_u16();
                }
                status
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // Assert: no internal errors, and reads of stored blobs still work.
    let mut counts = BTreeMap::new();
    for s in &statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 429),
        "statuses: {counts:?}"
    );
    for round in 0..20 {
        for (digest, bytes) in &blobs {
            let r = app
                .req(Method::GET, &format!("/v2/fds/app/blobs/{digest}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "round {round}");
            assert_eq!(&r.bytes().await.unwrap()[..], &bytes[..]);
        }
    }
    assert_eq!(upload_fds(&app), 0);
    eprintln!(
        "300 sessions under ulimit -n 256: {counts:?}, server fds open: {}",
        open_fds(app.pid())
    );
}

#[tokio::test]
async fn upload_sessions_beyond_a_clients_cap_get_429_toomanyrequests_until_one_ends() {
    // Arrange
    let app = spawn_app_with(&["BERTH_LIMITS__UPLOAD_SESSIONS_PER_CLIENT=3"]).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (status, session) = open_session(&app, "cap/app").await;
        assert_eq!(status, 202);
        sessions.push(session.unwrap());
    }

    // Act
    let r = app
        .req(Method::POST, "/v2/cap/app/blobs/uploads/")
        .send()
        .await
        .unwrap();

    // Assert: refused clearly; a finished session makes room again.
    assert!(!header(&r, "retry-after").is_empty());
    let body = assert_oci_error(r, 429, "TOOMANYREQUESTS").await;
    assert!(
        body.to_string().contains("upload_sessions_per_client"),
        "{body}"
    );
    let r = app.req(Method::DELETE, &sessions[0]).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(open_session(&app, "cap/app").await.0, 202);
    // A monolithic push opens no session and is not refused.
    app.push_blob("cap/app", b"monolithic").await;
}

#[tokio::test]
async fn upload_sessions_beyond_a_repositorys_cap_get_429_toomanyrequests() {
    let app = spawn_app_with(&["BERTH_LIMITS__UPLOAD_SESSIONS_PER_REPOSITORY=2"]).await;
    assert_eq!(open_session(&app, "a/one").await.0, 202);
    assert_eq!(open_session(&app, "b/two").await.0, 202);

    let r = app
        .req(Method::POST, "/v2/c/three/blobs/uploads/")
        .send()
        .await
        .unwrap();

    let body = assert_oci_error(r, 429, "TOOMANYREQUESTS").await;
    assert!(
        body.to_string().contains("upload_sessions_per_repository"),
        "{body}"
    );
}
