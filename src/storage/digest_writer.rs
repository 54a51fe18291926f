//! Streams request-body chunks to a temp file while hashing them.
//!
//! Chunks (`Bytes` from the HTTP layer) are queued without copying; once a batch of about
//! 1 MiB has gathered it is handed to a blocking thread that writes it with vectored writes
//! and feeds the hasher, while the next batch is being received. At most one batch is in
//! flight, so memory per upload stays bounded (two batches).
//!
//! The temp file is open only while a request writes to it: an upload session lives for
//! hours between requests, and a descriptor per idle session let 300 idle sessions exhaust
//! `ulimit -n 256` (82 × 500, then reads of stored blobs failed too). The file is opened on
//! the first batch of a request and closed by [`DigestWriter::release_file`] when the
//! request ends, so idle sessions cost no descriptor at all.
//!
//! The file and the hasher always agree: a batch that fails half-way is rolled back to the
//! last fully written chunk (the file is truncated there), so a resumed upload continues
//! from a consistent offset.

use std::fs::File;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::StorageError;
use crate::oci::{Algorithm, Digest, Hasher};

/// Gather this much before handing a batch to the blocking pool.
const BATCH_BYTES: usize = 1 << 20;
/// Start the disk writing back this much of the file as soon as it is written, rather than
/// leaving it all to the final fsync.
const WRITEBACK_BYTES: u64 = 8 << 20;

struct WriterIo {
    /// Open only while a request writes (see the module header).
    file: Option<File>,
    hasher: Hasher,
    /// Where the range not yet sent to writeback starts.
    writeback_from: u64,
}

type FlushOutcome = (WriterIo, u64, Option<io::Error>);

/// A temp file plus the hash of everything written to it.
pub struct DigestWriter {
    path: PathBuf,
    io: Option<WriterIo>,
    /// Bytes written and hashed (excludes the queued and in-flight batches).
    offset: u64,
    /// `offset`, published for readers that must not wait for the writer (upload status).
    progress: Arc<AtomicU64>,
    pending: Vec<Bytes>,
    pending_len: usize,
    inflight: Option<JoinHandle<FlushOutcome>>,
}

impl DigestWriter {
    /// Creates a new, empty temp file at `path` (which must not exist).
    pub fn create(path: PathBuf, algorithm: Algorithm) -> io::Result<Self> {
        // Created now so the name is taken; closed until the first write.
        File::options().write(true).create_new(true).open(&path)?;
        Ok(DigestWriter {
            path,
            io: Some(WriterIo {
                file: None,
                hasher: Hasher::new(algorithm),
                writeback_from: 0,
            }),
            offset: 0,
            progress: Arc::default(),
            pending: Vec::new(),
            pending_len: 0,
            inflight: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes durably accounted for: written and hashed. Exact after [`Self::flush`].
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The offset as of the last completed write, readable without this writer.
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    /// Closes the temp file until the next write (call when a request is done with it).
    /// A batch still in flight keeps its file until the next request settles it.
    pub fn release_file(&mut self) {
        if let Some(io) = self.io.as_mut() {
            io.file = None;
        }
    }

    /// Queues one chunk; writes a batch when enough has gathered.
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= BATCH_BYTES {
            self.start_batch().await?;
        }
        Ok(())
    }

    /// Writes everything queued and waits for it; afterwards `offset()` is exact.
    pub async fn flush(&mut self) -> Result<u64, StorageError> {
        if !self.pending.is_empty() {
            self.start_batch().await?;
        }
        self.await_inflight().await?;
        Ok(self.offset)
    }

    /// Drops queued chunks that were not written yet (the request that sent them failed).
    pub async fn discard_pending(&mut self) -> Result<(), StorageError> {
        self.pending.clear();
        self.pending_len = 0;
        self.await_inflight().await
    }

    /// The digest of everything written so far (call after `flush`).
    pub fn digest(&self) -> Result<Digest, StorageError> {
        let io = self.io.as_ref().ok_or(StorageError::Poisoned)?;
        Ok(io.hasher.peek())
    }

    /// Flushes, fsyncs and returns the temp file's path and final digest, consuming the
    /// writer. The caller renames the file into place.
    pub async fn finish(mut self) -> Result<(PathBuf, Digest, u64), StorageError> {
        self.flush().await?;
        let io = self.io.take().ok_or(StorageError::Poisoned)?;
        let WriterIo { file, hasher, .. } = io;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || match file {
            Some(file) => file.sync_all(),
            None => File::open(path)?.sync_all(),
        })
        .await
        .map_err(join_error)??;
        let path = mem::take(&mut self.path);
        Ok((path, hasher.finish(), self.offset))
    }

    async fn start_batch(&mut self) -> Result<(), StorageError> {
        self.await_inflight().await?;
        let io = self.io.take().ok_or(StorageError::Poisoned)?;
        let batch = mem::take(&mut self.pending);
        self.pending_len = 0;
        let start = self.offset;
        let path = self.path.clone();
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            write_batch(io, &path, batch, start)
        }));
        Ok(())
    }

    /// Waits for the batch in flight. Cancel-safe: the handle stays in place until the batch
    /// is done, so a request dropped mid-wait (client reset) leaves a writer the next request
    /// can settle, rather than one whose file handle and hasher were lost.
    async fn await_inflight(&mut self) -> Result<(), StorageError> {
        let Some(handle) = self.inflight.as_mut() else {
            return Ok(());
        };
        let outcome = handle.await;
        self.inflight = None;
        let (io, written, error) = outcome.map_err(join_error)?;
        self.io = Some(io);
        self.offset += written;
        self.progress.store(self.offset, Ordering::Relaxed);
        metrics::gauge!(crate::metrics::UPLOAD_BYTES_IN_PROGRESS).increment(written as f64);
        match error {
            Some(e) => {
                // The file ends after the last complete chunk; anything queued behind the
                // failed one would land at the wrong offset.
                self.pending.clear();
                self.pending_len = 0;
                Err(e.into())
            }
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for DigestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestWriter")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish()
    }
}

impl Drop for DigestWriter {
    /// An abandoned writer (upload cancelled, expired or failed) removes its temp file.
    /// After `finish` the path is empty and the caller owns the file.
    fn drop(&mut self) {
        // Written bytes stop being "in progress" when the writer goes, committed or not.
        metrics::gauge!(crate::metrics::UPLOAD_BYTES_IN_PROGRESS).decrement(self.offset as f64);
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn join_error(e: tokio::task::JoinError) -> StorageError {
    StorageError::Io(io::Error::other(e))
}

/// Opens the temp file (if closed) positioned at `start`.
fn open_at(io: &mut WriterIo, path: &Path, start: u64) -> io::Result<()> {
    if io.file.is_none() {
        let mut file = File::options().write(true).open(path)?;
        file.seek(SeekFrom::Start(start))?;
        io.file = Some(file);
    }
    Ok(())
}

/// Writes `batch` at `start`, hashing each chunk once it is fully written. On error the
/// file is cut back to the end of the last complete chunk.
fn write_batch(mut io: WriterIo, path: &Path, batch: Vec<Bytes>, start: u64) -> FlushOutcome {
    if let Err(e) = open_at(&mut io, path, start) {
        return (io, 0, Some(e));
    }
    let file = io.file.as_mut().expect("opened above");
    let mut written = 0u64;
    let mut next = 0usize;
    while next < batch.len() {
        let group = &batch[next..batch.len().min(next + 64)];
        match write_group(file, group) {
            Ok(()) => {
                for chunk in group {
                    io.hasher.update(chunk);
                    written += chunk.len() as u64;
                }
                next += group.len();
            }
            Err(e) => {
                let end = start + written;
                let rollback = file.set_len(end).and_then(|_| {
                    file.seek(SeekFrom::Start(end))?;
                    Ok(())
                });
                if let Err(r) = rollback {
                    tracing::error!(error = %r, "could not roll back a failed upload write");
                }
                return (io, written, Some(e));
            }
        }
    }
    start_writeback(&mut io, start + written);
    (io, written, None)
}

/// Asks the kernel to start writing the file's pages up to `end` to disk (without waiting),
/// every `WRITEBACK_BYTES`. The disk then works while the rest of the body arrives, so the
/// final fsync of a big blob finds little left to do: a 512 MiB push no longer pays for
/// receiving and for writing one after the other. Best effort: on error the fsync does it all.
fn start_writeback(io: &mut WriterIo, end: u64) {
    if end < io.writeback_from + WRITEBACK_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Some(file) = io.file.as_ref() {
        use std::os::fd::AsRawFd;
        let len = (end - io.writeback_from) as libc::off64_t;
        // SAFETY: a plain syscall on a file descriptor this struct owns.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                io.writeback_from as libc::off64_t,
                len,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    io.writeback_from = end;
}

/// `write_all` over several buffers with `writev`.
fn write_group(file: &mut File, group: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = group.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_are_written_in_order_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("up");
        let mut w = DigestWriter::create(path.clone(), Algorithm::Sha256).unwrap();
        let mut expected = Vec::new();
        for i in 0..300u32 {
            let chunk = vec![(i % 251) as u8; 7_000 + i as usize];
            expected.extend_from_slice(&chunk);
            w.push(Bytes::from(chunk)).await.unwrap();
        }
        assert_eq!(w.flush().await.unwrap(), expected.len() as u64);
        let (tmp, digest, size) = w.finish().await.unwrap();
        assert_eq!(size, expected.len() as u64);
        assert_eq!(digest, Digest::of_bytes(Algorithm::Sha256, &expected));
        assert_eq!(std::fs::read(&tmp).unwrap(), expected);
    }

    /// actix drops a handler whose client reset the connection; the writer must stay usable.
    #[tokio::test]
    async fn a_push_cancelled_while_a_batch_is_in_flight_leaves_a_usable_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DigestWriter::create(dir.path().join("up"), Algorithm::Sha256).unwrap();
        let first = Bytes::from(vec![1u8; 32 << 20]);
        let second = Bytes::from(vec![2u8; BATCH_BYTES]);
        w.push(first.clone()).await.unwrap();
        // Polled once (it waits for the first batch), then dropped.
        let zero = std::time::Duration::ZERO;
        let _ = tokio::time::timeout(zero, w.push(second.clone())).await;
        let offset = w.flush().await.unwrap();
        assert_eq!(offset, (first.len() + second.len()) as u64);
        let mut expected = first.to_vec();
        expected.extend_from_slice(&second);
        let (_, digest, _) = w.finish().await.unwrap();
        assert_eq!(digest, Digest::of_bytes(Algorithm::Sha256, &expected));
    }

    #[tokio::test]
    async fn a_released_writer_holds_no_descriptor_and_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DigestWriter::create(dir.path().join("up"), Algorithm::Sha256).unwrap();
        assert!(
            w.io.as_ref().unwrap().file.is_none(),
            "open before any write"
        );
        w.push(Bytes::from_static(b"first ")).await.unwrap();
        w.flush().await.unwrap();
        w.release_file();
        assert!(w.io.as_ref().unwrap().file.is_none());
        w.push(Bytes::from_static(b"second")).await.unwrap();
        assert_eq!(w.flush().await.unwrap(), 12);
        assert_eq!(w.progress().load(Ordering::Relaxed), 12);
        w.release_file();
        let (tmp, digest, _) = w.finish().await.unwrap();
        assert_eq!(std::fs::read(tmp).unwrap(), b"first second");
        assert_eq!(digest, Digest::of_bytes(Algorithm::Sha256, b"first second"));
    }

    #[tokio::test]
    async fn dropping_an_unfinished_writer_removes_its_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("up");
        let mut w = DigestWriter::create(path.clone(), Algorithm::Sha256).unwrap();
        w.push(Bytes::from_static(b"abc")).await.unwrap();
        w.flush().await.unwrap();
        drop(w);
        assert!(!path.exists());
    }
}
