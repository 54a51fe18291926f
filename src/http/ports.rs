//! The connector-port seam. Creating, changing or deleting a repository through the admin
//! API (or the UI) opens or closes its own port; the ports themselves are servers that the
//! composition root builds (`crate::connectors`). Startup hands an implementation of
//! [`Ports`] down as app data, so this layer never imports the one above it.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;

/// A boxed future borrowing the port set (trait objects cannot have `async fn`s).
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// `Send + Sync`: every worker thread of every port holds the same set.
pub trait Ports: Send + Sync {
    /// Binds `port` for `repo`, or says why it cannot; `None` when that port is already
    /// served for `repo`. Called *before* a definition change is committed.
    fn bind(&self, repo: &str, port: u16) -> Result<Option<TcpListener>, String>;

    /// Starts serving `repo` on a bound listener (replacing an older port of `repo`).
    fn start<'a>(
        &'a self,
        repo: &'a str,
        listener: TcpListener,
    ) -> PortFuture<'a, std::io::Result<()>>;

    /// Stops serving `repo`'s port, if it has one.
    fn stop<'a>(&'a self, repo: &'a str) -> PortFuture<'a, ()>;
}
