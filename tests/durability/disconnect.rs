//! A client that goes away in the middle of a PATCH (the server stays up): the session keeps
//! a consistent prefix of what arrived, reports it, and can be resumed from there.

use std::time::Duration;

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;
use crate::support::*;

const NAME: &str = "durability/disconnect";
const DECLARED: usize = 4 * MIB;

#[derive(Clone, Copy, Debug)]
enum Hangup {
    /// `close()`: the server reads EOF after the bytes sent.
    Close,
    /// `SO_LINGER 0` then `close()`: a reset, as when the client process dies.
    Reset,
}

#[tokio::test]
async fn a_patch_cut_off_by_a_closed_socket_keeps_a_resumable_prefix() {
    cut_off_patch_then_resume(Hangup::Close, MIB, 21).await;
}

#[tokio::test]
async fn a_patch_cut_off_by_a_reset_keeps_a_resumable_prefix() {
    cut_off_patch_then_resume(Hangup::Reset, MIB, 22).await;
}

/// 1.5 MiB: the reset lands with one batch written or in flight and a partial one queued.
#[tokio::test]
async fn a_reset_between_write_batches_keeps_a_resumable_prefix() {
    cut_off_patch_then_resume(Hangup::Reset, 3 * MIB / 2, 23).await;
}

/// Sends `sent` of a declared 4 MiB, hangs up, then checks the session's offset is a prefix
/// of what was sent and that resuming from it yields the right blob.
async fn cut_off_patch_then_resume(hangup: Hangup, sent: usize, seed: u64) {
    let app = spawn_app().await;
    let data = Pattern::new(seed, DECLARED / MIB);
    let (session, id) = start_session(&app, NAME).await;

    let mut socket = TcpStream::connect(&app.addr).await.unwrap();
    let head = format!(
        "PATCH {session} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {DECLARED}\r\n\r\n",
        app.addr
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&data.range(0, sent)).await.unwrap();
    socket.flush().await.unwrap();

    // Give the server the chance to start on the body before the client vanishes, so the
    // status request below (which waits for a running PATCH of its session) cannot overtake
    // it. Not required for correctness and not an assertion: Berth writes in batches of at
    // most 1 MiB today, so the temp file normally shows up quickly.
    let temp_file = app.store_root().join("uploads").join(&id);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while file_len(&temp_file) == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    match hangup {
        Hangup::Close => {
            // Half-close, then read until the server is done with the connection.
            socket.shutdown().await.unwrap();
            let mut sink = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut sink)).await;
            drop(socket);
        }
        Hangup::Reset => {
            socket.set_zero_linger().unwrap();
            drop(socket);
        }
    }

    let offset = session_offset(&app, &session).await;
    assert!(
        offset <= sent as u64,
        "{hangup:?}: the session claims {offset} bytes, only {sent} were sent"
    );
    eprintln!("{hangup:?}: the session kept {offset} of the {sent} bytes sent");

    // Resume from the reported offset with the rest, then complete.
    let offset = offset as usize;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("{offset}-{}", DECLARED - 1))
        .body(data.range(offset, DECLARED))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "resume: {}", r.text().await.unwrap());
    assert_eq!(range_len(&header(&r, "range")), DECLARED as u64);
    let digest = data.digest();
    let r = app
        .req(Method::PUT, &with_digest(&session, &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "complete: {}", r.text().await.unwrap());
    assert_blob_reads_back(&app, NAME, &digest, DECLARED as u64).await;
    assert_eq!(files_in(&app, "uploads"), Vec::<String>::new());
}
