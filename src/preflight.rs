//! Start-up checks that turn the operating system's terse errors ("Address already in use
//! (os error 98)", "Not a directory (os error 20)") into messages that name the address or
//! path, the setting it came from, and what to do.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use anyhow::anyhow;

/// Binds the main port.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        let what = match e.kind() {
            ErrorKind::AddrInUse => {
                "the port is in use by another process (another berth?): stop it, or choose \
                 another address"
            }
            ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges: use a higher port (Berth's default is 8081)"
            }
            ErrorKind::AddrNotAvailable => {
                "no network interface of this machine has this address: use 0.0.0.0 or one of \
                 its addresses"
            }
            _ => "check the address",
        };
        anyhow!("cannot listen on {addr} (setting listen, --listen or BERTH_LISTEN): {e}; {what}")
    })
}

/// Makes sure `dir` is a directory Berth can write to (creating it if missing).
pub fn data_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    let hint = |e: &std::io::Error| match e.kind() {
        ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
            "a file is in the way: point data_dir at a directory"
        }
        ErrorKind::ReadOnlyFilesystem => {
            "the file system is mounted read-only: use a writable volume"
        }
        ErrorKind::PermissionDenied => {
            "the user running berth may not write there: fix the owner or mode, or use \
             another directory"
        }
        ErrorKind::StorageFull => "the disk is full: free space or use another volume",
        _ => "check the path",
    };
    let fail = |e: std::io::Error| {
        anyhow!(
            "cannot use the data directory {shown} (setting data_dir, --data-dir or \
             BERTH_DATA_DIR): {e}; {}",
            hint(&e)
        )
    };
    if dir.exists() && !dir.is_dir() {
        return Err(fail(std::io::Error::from(ErrorKind::NotADirectory)));
    }
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".berth-write-probe");
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_is_named_with_what_to_do() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind(taken.local_addr().unwrap()).unwrap_err().to_string();
        assert!(
            err.contains(&taken.local_addr().unwrap().to_string()),
            "{err}"
        );
        assert!(err.contains("in use by another process"), "{err}");
    }

    #[test]
    fn a_file_in_place_of_the_data_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, b"x").unwrap();
        let err = data_dir(&file).unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("point data_dir at a directory"), "{err}");
    }
}
