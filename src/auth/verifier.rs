//! Password verification on a fixed pool of dedicated threads with a bounded queue.
//!
//! An argon2id check needs its memory cost (19 MiB with the crate's defaults) for ~50 ms.
//! Running each check on its own `spawn_blocking` thread let a crowd of wrong passwords
//! start hundreds of them at once; glibc then gave each thread its own arena and kept the
//! freed blocks (measured: 250 parallel failed logins took RSS from 15 MiB to 4.9 GiB, 2 GiB
//! still held 20 s later). Here every verifier thread owns one memory buffer, allocated once
//! and reused for every check, so memory is `threads × memory cost` whatever the load. Jobs
//! wait in a bounded queue; when it is full the caller is told at once ([`Busy`]) instead of
//! queueing without end.
//!
//! The queue has two lanes of the same size. Clients that have logged in before from the
//! same address ("known clients", the registry's version of OWASP's device cookies) wait in
//! their own lane, served first; a crowd of strangers fills only the open lane, so it cannot
//! keep the people who use this registry out.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The queue is full: too many logins are being checked right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A hash asking for more memory than this is refused rather than checked: our own hashes
/// use 19 MiB, and a bigger buffer would be kept for the life of the thread.
const MAX_BLOCKS: usize = 64 * 1024;

struct Job {
    password: String,
    phc: String,
    reply: tokio::sync::oneshot::Sender<bool>,
}

#[derive(Default)]
struct Lanes {
    known: VecDeque<Job>,
    open: VecDeque<Job>,
}

struct Queue {
    lanes: Mutex<Lanes>,
    /// Signalled when a job is queued.
    ready: Condvar,
    /// Jobs each lane holds at most.
    cap: usize,
}

/// Handle to the verifier threads; cheap to share.
pub struct Verifier {
    queue: Arc<Queue>,
}

impl Verifier {
    /// Starts `threads` verifier threads (at least one) behind two lanes of `queue` jobs.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let queue = Arc::new(Queue {
            lanes: Mutex::new(Lanes::default()),
            ready: Condvar::new(),
            cap: queue,
        });
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("berth-verify-{i}"))
                .spawn(move || run(&queue))?;
        }
        Ok(Verifier { queue })
    }

    /// Whether `password` matches the PHC string `phc`; [`Busy`] when the lane is full.
    /// `known`: the client has logged in before (its own lane, served first).
    pub async fn verify(&self, password: &str, phc: &str, known: bool) -> Result<bool, Busy> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            password: password.to_string(),
            phc: phc.to_string(),
            reply,
        };
        {
            let mut lanes = self.queue.lanes.lock().expect("verifier queue lock");
            let lane = match known {
                true => &mut lanes.known,
                false => &mut lanes.open,
            };
            if lane.len() >= self.queue.cap {
                return Err(Busy);
            }
            lane.push_back(job);
        }
        self.queue.ready.notify_one();
        // A dropped reply means the thread died: fail closed.
        Ok(answer.await.unwrap_or(false))
    }
}

/// One verifier thread: takes jobs (known clients first) until the process ends, reusing
/// `memory`. The queue lock is held only while taking a job, never while hashing.
fn run(queue: &Queue) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let Ok(mut lanes) = queue.lanes.lock() else {
                return;
            };
            loop {
                if let Some(job) = lanes.known.pop_front().or_else(|| lanes.open.pop_front()) {
                    break job;
                }
                lanes = match queue.ready.wait(lanes) {
                    Ok(l) => l,
                    Err(_) => return,
                };
            }
        };
        let ok = check(&job.password, &job.phc, &mut memory);
        let _ = job.reply.send(ok);
    }
}

/// Recomputes the hash of `password` with the parameters and salt of `phc` in `memory`
/// (grown when a hash needs more) and compares in constant time. A malformed hash matches
/// nothing.
pub fn check(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (&parsed.hash, &parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(&parsed)) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|o| o == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let h = crate::auth::password::hash("s3cret");
        let mut memory = Vec::new();
        assert!(check("s3cret", &h, &mut memory));
        assert!(!check("s3cret ", &h, &mut memory));
        assert!(!check("s3cret", "", &mut memory));
        assert!(!h.contains("s3cret"));
    }

    #[test]
    fn check_agrees_with_the_crate_verifier() {
        let phc = crate::auth::password::hash("s3cret");
        let mut memory = Vec::new();
        assert!(check("s3cret", &phc, &mut memory));
        assert!(!check("s3cret ", &phc, &mut memory));
        assert!(!check("s3cret", "", &mut memory));
        assert!(!check(
            "s3cret",
            "$argon2id$v=19$m=19456,t=2,p=1$bad",
            &mut memory
        ));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let verifier = Verifier::start(1, 1).unwrap();
        let phc = crate::auth::password::hash("pw");
        let tries: Vec<_> = (0..8).map(|_| verifier.verify("x", &phc, false)).collect();
        let results = futures_util::future::join_all(tries).await;
        assert!(results.contains(&Err(Busy)), "{results:?}");
        assert!(results.contains(&Ok(false)), "{results:?}");
        assert_eq!(verifier.verify("pw", &phc, false).await, Ok(true));
    }

    #[tokio::test]
    async fn a_known_client_is_queued_while_strangers_fill_the_open_lane() {
        let verifier = Verifier::start(1, 2).unwrap();
        let phc = crate::auth::password::hash("pw");
        let strangers: Vec<_> = (0..8).map(|_| verifier.verify("x", &phc, false)).collect();
        let known = verifier.verify("pw", &phc, true);
        let (strangers, known) = tokio::join!(futures_util::future::join_all(strangers), known);
        assert!(strangers.contains(&Err(Busy)), "{strangers:?}");
        assert_eq!(known, Ok(true));
    }
}
