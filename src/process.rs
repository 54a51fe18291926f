//! Process-wide resources set up at start.

/// Raises the soft limit of open files (`RLIMIT_NOFILE`) to the hard limit and returns
/// `(before, after)`. Distributions often leave the soft limit at 1024 while allowing far
/// more; a registry serving many connections and blob reads needs the headroom. Written
/// against `libc` directly: two syscalls do not justify another dependency.
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok((before, limit.rlim_cur))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_open_file_limit_ends_at_the_hard_limit() {
        let (before, after) = super::raise_nofile_limit().unwrap();
        assert!(after >= before);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
