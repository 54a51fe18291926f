//! Cuts request bodies that stall. actix-web times out a request's head
//! (`client_request_timeout`) but not its body: a client that sends a few bytes and then
//! nothing held its connection, its upload session's lock and (before sessions released
//! their files) a file descriptor forever. Every request body is read through
//! [`StallTimeout`]: when no bytes arrive for `limits.body_read_timeout_secs`, the body
//! ends with an error, which each handler already treats as a broken body (an upload keeps
//! what arrived and answers `400 BLOB_UPLOAD_INVALID`; the client can resume).
//!
//! The clock runs only while the handler waits for bytes, not while it works on the ones it
//! has (nginx's `client_body_timeout` counts the same way: between two reads).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::config::Limits;

/// Middleware: wraps the request's body (if it has one) in a [`StallTimeout`].
pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secs = req
        .app_data::<web::Data<Limits>>()
        .map_or(Limits::default().body_read_timeout_secs, |l| {
            l.body_read_timeout_secs
        });
    match req.take_payload() {
        Payload::None => {}
        payload => {
            let guarded = StallTimeout::new(payload, Duration::from_secs(secs));
            let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                Box::pin(guarded);
            req.set_payload(Payload::from(stream));
        }
    }
    next.call(req).await
}

/// A body stream that fails once it has been waited on for `limit` without a chunk.
pub struct StallTimeout<S> {
    inner: S,
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    /// The timer runs (since the reader started waiting).
    armed: bool,
    timed_out: bool,
}

impl<S> StallTimeout<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        StallTimeout {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            armed: false,
            timed_out: false,
        }
    }
}

impl<S> Stream for StallTimeout<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                this.armed = false;
                Poll::Ready(item)
            }
            Poll::Pending => {
                if !this.armed {
                    this.armed = true;
                    let deadline = Instant::now() + this.limit;
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out = true;
                        metrics::counter!(crate::metrics::UPLOADS_REFUSED, "reason" => "body_timeout")
                            .increment(1);
                        let message = format!(
                            "no request body bytes for {} s (limits.body_read_timeout_secs)",
                            this.limit.as_secs()
                        );
                        let error = io::Error::new(io::ErrorKind::TimedOut, message);
                        Poll::Ready(Some(Err(PayloadError::Io(error))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn a_body_that_stops_sending_ends_with_a_timeout_error() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, PayloadError>>();
        let inner = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let mut body = StallTimeout::new(Box::pin(inner), Duration::from_millis(50));
        tx.send(Ok(Bytes::from_static(b"abc"))).unwrap();
        assert_eq!(body.next().await.unwrap().unwrap(), "abc");
        let err = body.next().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("no request body bytes"), "{err}");
        assert!(body.next().await.is_none());
        drop(tx);
    }
}
