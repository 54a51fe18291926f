//! A minimal client of the local admin API for the `berth gc` and `berth task run` commands:
//! they ask the running server (collection is online; a second process must not sweep the
//! same store). Plain HTTP/1.1 over `std::net`, loopback only, so no client library is needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

/// Starts task `id` on the server listening at `listen` and waits for it; returns the task.
pub fn run_task(listen: SocketAddr, id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let addr = loopback(listen);
    let (status, body) = request(addr, "POST", &format!("/service/rest/v1/tasks/{id}/run"))?;
    if status != 204 {
        bail!("the server refused to run task {id}: {status} {body}");
    }
    let deadline = Instant::now() + timeout;
    loop {
        let (status, body) = request(addr, "GET", &format!("/service/rest/v1/tasks/{id}"))?;
        if status != 200 {
            bail!("reading task {id}: {status} {body}");
        }
        let task: Value = serde_json::from_str(&body).context("task JSON")?;
        if task["currentState"] == "WAITING" {
            return Ok(task);
        }
        if Instant::now() > deadline {
            bail!("task {id} is still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The address to reach a server listening on `listen` (a wildcard means this host).
fn loopback(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// One request to the server listening at `listen`, with an optional JSON body; returns
/// the status and the body.
pub fn call(
    listen: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    send(loopback(listen), method, path, json)
}

/// One request with `Connection: close`; returns the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    send(addr, method, path, None)
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot reach berth at {addr}; is `berth serve` running?"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = json.unwrap_or_default();
    let content_type = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP response")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    Ok((status, dechunk(body)))
}

/// Undoes `Transfer-Encoding: chunked` if the body looks chunked (actix chunks JSON bodies
/// only when streaming; small ones come with a length).
fn dechunk(body: &str) -> String {
    if body.trim_start().starts_with('{') || body.is_empty() {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}
