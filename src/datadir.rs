//! The data directory: one server at a time, readable by its owner only.
//!
//! Two servers on one directory would each purge the other's uploads and keep diverging
//! in-memory states, so [`prepare`] takes an exclusive `flock` on `<data>/berth.lock` for the
//! life of the process (the kernel releases it however the process ends, so a crash never
//! leaves a stale lock) and writes the holder's PID into it for the refusal message.
//! `libc::flock` directly: one call, and the crates that wrap it add nothing we need.
//!
//! The directory holds password hashes, signing and sealing keys: it is made 0700 and its
//! files 0600 at every start (which also fixes installs made before this rule). The database
//! is created 0600 before SQLite opens it, and SQLite gives `-wal`/`-shm` the mode of the
//! database file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use anyhow::Context;

pub const LOCK_FILE: &str = "berth.lock";
/// The key that seals secrets at rest (see `crate::sealed`).
pub const SECRETS_KEY_FILE: &str = "secrets.key";
/// Files of the data directory's top level that only the owner may read.
const PRIVATE_FILES: [&str; 7] = [
    "berth.db",
    "berth.db-wal",
    "berth.db-shm",
    "token.key",
    SECRETS_KEY_FILE,
    "admin.password",
    LOCK_FILE,
];

/// Holds the data directory's lock until dropped (at process exit).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Creates the data directory if needed, locks it, and makes it private. `embedded_db`:
/// the metadata lives in `<dir>/berth.db` (SQLite), which is then created 0600 here; with
/// `[meta] url` (PostgreSQL) no database file is created.
pub fn prepare(dir: &Path, embedded_db: bool) -> anyhow::Result<DataDirLock> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let lock = lock(dir)?;
    make_private(dir, embedded_db)?;
    Ok(lock)
}

fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock(2) on a descriptor we own; no memory is passed.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err).with_context(|| format!("cannot lock {}", path.display()));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = match holder.trim() {
            "" => "unknown".to_string(),
            pid => pid.to_string(),
        };
        anyhow::bail!(
            "the data directory {} is in use by another berth process (pid {holder}); \
             stop it or choose another --data-dir",
            dir.display()
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_all()?;
    Ok(DataDirLock { _file: file })
}

/// 0700 on the directory, 0600 on the files that hold secrets; creates the embedded
/// database file 0600 if it is used and does not exist yet (SQLite would create it with the
/// umask's mode).
fn make_private(dir: &Path, embedded_db: bool) -> anyhow::Result<()> {
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot restrict the permissions of {}", path.display()))
    };
    set(dir, 0o700)?;
    let db = dir.join("berth.db");
    if embedded_db && !db.exists() {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
            .with_context(|| format!("cannot create {}", db.display()))?;
    }
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        if path.exists() {
            set(&path, 0o600)?;
        }
    }
    Ok(())
}

/// Writes `bytes` to a new file only its owner can read (mode 0600 from creation, never
/// briefly world-readable).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _held = prepare(dir.path(), true).unwrap();
        // A second open file description conflicts even within one process.
        let err = lock(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
