//! A completion whose digest does not match the content publishes nothing: no file under
//! `blobs/` (for either digest), HEAD 404, no temp file left, and the session is spent.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const NAME: &str = "durability/mismatch";

fn claimed_and_actual(data: &[u8]) -> (String, String) {
    let actual = sha256(data);
    let claimed = sha256(b"something else entirely");
    assert_ne!(claimed, actual);
    (claimed, actual)
}

async fn assert_nothing_published(app: &TestApp, claimed: &str, actual: &str) {
    for digest in [claimed, actual] {
        assert_eq!(blob_status(app, NAME, digest).await, 404, "HEAD {digest}");
        let r = app
            .req(Method::GET, &format!("/v2/{NAME}/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_oci_error(r, 404, "BLOB_UNKNOWN").await;
        assert!(
            !app.blob_path(digest).exists(),
            "{digest} was written to blobs/"
        );
    }
    assert_eq!(files_in(app, "uploads"), Vec::<String>::new());
    assert_eq!(files_in(app, "tmp"), Vec::<String>::new());
}

#[tokio::test]
async fn a_chunked_upload_completed_with_the_wrong_digest_publishes_nothing() {
    let app = spawn_app().await;
    let data = Pattern::new(31, 3).range(0, 3 * MIB);
    let (claimed, actual) = claimed_and_actual(&data);
    let (session, _) = start_session(&app, NAME).await;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let r = app
        .req(Method::PUT, &with_digest(&session, &claimed))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    assert_nothing_published(&app, &claimed, &actual).await;

    // A failed completion is final: the session is gone, it cannot be retried.
    let r = app.req(Method::GET, &session).send().await.unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = app
        .req(Method::PUT, &with_digest(&session, &actual))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_nothing_published(&app, &claimed, &actual).await;
}

#[tokio::test]
async fn a_monolithic_push_with_the_wrong_digest_publishes_nothing() {
    let app = spawn_app().await;
    let data = Pattern::new(32, 2).range(0, 2 * MIB);
    let (claimed, actual) = claimed_and_actual(&data);
    let r = app
        .req(
            Method::POST,
            &format!("/v2/{NAME}/blobs/uploads/?digest={claimed}"),
        )
        .body(data)
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    assert_nothing_published(&app, &claimed, &actual).await;
}

#[tokio::test]
async fn a_final_chunk_that_breaks_the_digest_publishes_nothing() {
    let app = spawn_app().await;
    let data = Pattern::new(33, 2).range(0, 2 * MIB);
    let (_, actual) = claimed_and_actual(&data);
    let (session, _) = start_session(&app, NAME).await;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Range", format!("0-{}", MIB - 1))
        .body(data[..MIB].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // The last chunk arrives with the PUT, but it is not the content the digest names.
    let mut wrong_tail = data[MIB..].to_vec();
    wrong_tail[0] ^= 0xff;
    let r = app
        .req(Method::PUT, &with_digest(&session, &actual))
        .header("Content-Range", format!("{MIB}-{}", 2 * MIB - 1))
        .body(wrong_tail.clone())
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    let mut sent = data[..MIB].to_vec();
    sent.extend_from_slice(&wrong_tail);
    assert_nothing_published(&app, &actual, &sha256(&sent)).await;

    // The right content under the right digest still goes through afterwards.
    let digest = app.push_blob(NAME, &data).await;
    assert_eq!(digest, actual);
    assert_blob_reads_back(&app, NAME, &actual, data.len() as u64).await;
}
