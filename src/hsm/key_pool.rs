//! [`KeyPool`]: one-time keys generated ahead of need (`[hsm.key_pool]`), so that a signature
//! with an RSA one-time key does not wait the half second to a second an HSM takes to make one.
//!
//! - Pool keys are one-time keys like the others: session objects (`CKA_TOKEN=false`),
//!   sensitive, never extractable, sign-only. Each is handed out once ([`KeyPool::take`]),
//!   signs once and is destroyed by the taking transaction's guard ([`KeySession::adopt`]).
//! - Each refill thread makes its keys in a session of its own ([`KeyStore::own_session`], not
//!   one of the signing pool's). Closing that session destroys every key still in it: when the
//!   pool stops, when the session fails, and when a taken key could not be destroyed (the
//!   guard tells the maker, which closes its session, first withdrawing its keys from the pool).
//!   If the process dies, the token drops session objects with their sessions.
//! - The pool is refilled in the background; [`KeyPool::take`] never waits. What a signature
//!   does when it finds the pool empty (generate in line or answer busy) is the engine's
//!   choice, by configuration.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{KeyAlgorithm, KeyPair, KeySession, KeyStore};

/// How long a refill thread waits before trying again after the token failed it.
const RETRY_AFTER: Duration = Duration::from_secs(1);

type Handle<K> = <<K as KeyStore>::Session as KeySession>::Handle;

/// A key from the pool: the key pair, and the flag its maker watches (see [`KeySession::adopt`]).
pub struct PooledKey<H> {
    /// The key pair (a session object of its maker's session).
    pub key: KeyPair<H>,
    /// Set when the key could not be destroyed: its maker then closes its session.
    pub maker: Arc<AtomicBool>,
}

/// How the pool stands (for the operator's metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPoolUse {
    /// Keys the pool keeps ready when it keeps up.
    pub size: usize,
    /// Keys ready now.
    pub ready: usize,
    /// Signatures, since start, that found the pool empty.
    pub empty: u64,
}

/// Pre-generated one-time keys, refilled by background threads.
pub struct KeyPool<K: KeyStore> {
    shared: Arc<Shared<K>>,
    threads: Vec<JoinHandle<()>>,
}

/// The keys ready, and how many are being made (so that the threads never make more than the
/// room left).
struct State<H> {
    ready: VecDeque<PooledKey<H>>,
    making: usize,
}

struct Shared<K: KeyStore> {
    store: Arc<K>,
    algorithm: KeyAlgorithm,
    size: usize,
    state: Mutex<State<Handle<K>>>,
    /// Signalled when a key is taken or the pool stops. A maker's flag wakes nobody: its
    /// thread sees it within [`RETRY_AFTER`], its longest wait.
    wanted: Condvar,
    stopping: AtomicBool,
    empty: AtomicU64,
}

impl<K: KeyStore> KeyPool<K> {
    /// Start `threads` refill threads keeping `size` keys of `algorithm` ready.
    pub fn start(store: Arc<K>, algorithm: KeyAlgorithm, size: usize, threads: usize) -> Self {
        let shared = Arc::new(Shared {
            store,
            algorithm,
            size,
            state: Mutex::new(State { ready: VecDeque::with_capacity(size), making: 0 }),
            wanted: Condvar::new(),
            stopping: AtomicBool::new(false),
            empty: AtomicU64::new(0),
        });
        let threads = (0..threads.max(1))
            .map(|n| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("esignd-key-pool-{n}"))
                    .spawn(move || refill(&shared))
                    .expect("the OS starts a thread")
            })
            .collect();
        tracing::info!(size, algorithm = %algorithm, "one-time key pool started");
        Self { shared, threads }
    }

    /// A ready key, or `None` (counted) when the pool is empty. Never waits.
    pub fn take(&self) -> Option<PooledKey<Handle<K>>> {
        let key = lock(&self.shared.state).ready.pop_front();
        match &key {
            Some(_) => self.shared.wanted.notify_one(),
            None => {
                self.shared.empty.fetch_add(1, Ordering::Relaxed);
            }
        }
        key
    }

    /// How the pool stands now.
    pub fn pool_use(&self) -> KeyPoolUse {
        KeyPoolUse {
            size: self.shared.size,
            ready: lock(&self.shared.state).ready.len(),
            empty: self.shared.empty.load(Ordering::Relaxed),
        }
    }
}

impl<K: KeyStore> Drop for KeyPool<K> {
    /// Stop the refill threads; each closes its session, destroying the keys not taken.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wanted.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One refill thread: keep the pool full from a session of its own.
fn refill<K: KeyStore>(shared: &Shared<K>) {
    let mut maker = Maker::<K>::default();
    while !shared.stopping.load(Ordering::Acquire) {
        if maker.flag.load(Ordering::Acquire) {
            tracing::warn!("a pool key was not destroyed after its signature; closing the session it lives in");
            maker.close(shared);
            continue;
        }
        if !shared.reserve_room(&maker.flag) {
            continue;
        }
        let session = match &maker.session {
            Some(session) => session,
            None => match shared.store.own_session() {
                Ok(session) => maker.session.insert(session),
                Err(e) => {
                    lock(&shared.state).making -= 1;
                    tracing::warn!(error = %e, "the key pool cannot open an HSM session; trying again");
                    std::thread::sleep(RETRY_AFTER);
                    continue;
                }
            },
        };
        let made = session.generate_unguarded(shared.algorithm);
        let mut state = lock(&shared.state);
        state.making -= 1;
        match made {
            Ok(key) => state.ready.push_back(PooledKey { key, maker: Arc::clone(&maker.flag) }),
            Err(e) => {
                drop(state);
                tracing::warn!(error = %e, "the key pool could not generate a key; reopening its session");
                maker.close(shared);
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }
    maker.close(shared);
}

/// A refill thread's session and the flag of the keys made in it.
struct Maker<K: KeyStore> {
    session: Option<K::Session>,
    flag: Arc<AtomicBool>,
}

impl<K: KeyStore> Default for Maker<K> {
    fn default() -> Self {
        Self { session: None, flag: Arc::new(AtomicBool::new(false)) }
    }
}

impl<K: KeyStore> Maker<K> {
    /// Withdraw this maker's keys from the pool and close its session, which destroys them and
    /// any taken key that was not destroyed; the next key is made in a new session.
    fn close(&mut self, shared: &Shared<K>) {
        lock(&shared.state).ready.retain(|pooled| !Arc::ptr_eq(&pooled.maker, &self.flag));
        drop(self.session.take());
        self.flag = Arc::new(AtomicBool::new(false));
    }
}

impl<K: KeyStore> Shared<K> {
    /// Wait until the pool has room for one more key and reserve it (the caller makes the key
    /// and gives the reservation back); false, reserving nothing, when woken for another reason
    /// (stopping, or a maker's flag set), so the caller checks again.
    fn reserve_room(&self, flag: &AtomicBool) -> bool {
        let mut state = lock(&self.state);
        loop {
            if self.stopping.load(Ordering::Acquire) || flag.load(Ordering::Acquire) {
                return false;
            }
            if state.ready.len() + state.making < self.size {
                state.making += 1;
                return true;
            }
            state = self.wanted.wait_timeout(state, RETRY_AFTER).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(all(test, feature = "memory-keystore"))]
mod tests {
    use super::*;
    use crate::hsm::memory::MemoryKeyStore;
    use crate::hsm::{HashAlgorithm, SignatureScheme};

    fn filled(pool: &KeyPool<MemoryKeyStore>, size: usize) {
        let started = std::time::Instant::now();
        while pool.pool_use().ready < size {
            assert!(started.elapsed() < Duration::from_secs(30), "the pool never filled");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn session_keys(store: &MemoryKeyStore) -> usize {
        let session = store.session().unwrap();
        session.objects().unwrap().iter().filter(|o| !o.on_token).count() / 2
    }

    #[test]
    fn each_key_is_taken_once_signs_once_and_is_destroyed_and_stopping_destroys_the_rest() {
        let store = Arc::new(MemoryKeyStore::new());
        let pool = KeyPool::start(Arc::clone(&store), KeyAlgorithm::P256, 4, 2);
        filled(&pool, 4);
        assert_eq!(session_keys(&store), 4, "four keys wait, none more");

        let session = store.session().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let Some(pooled) = pool.take() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            assert!(seen.insert(der::Encode::to_der(pooled.key.public_key()).unwrap()), "a key was handed out twice");
            let key = session.adopt(pooled.key, pooled.maker);
            key.sign_digest(SignatureScheme::Ecdsa(HashAlgorithm::Sha256), &[7; 32]).unwrap();
            key.destroy().unwrap();
        }
        assert!(seen.len() >= 4);
        filled(&pool, 4);
        assert_eq!(session_keys(&store), 4, "the used keys are gone");
        drop(session);
        drop(pool);
        assert_eq!(session_keys(&store), 0, "stopping the pool destroys the keys not taken");
    }

    #[test]
    fn an_empty_pool_answers_at_once_and_counts_it() {
        let store = Arc::new(MemoryKeyStore::new());
        let pool = KeyPool::start(store, KeyAlgorithm::Rsa2048, 1, 1);
        let empty = (0..100).take_while(|_| pool.take().is_none()).count() as u64;
        assert!(empty > 0, "RSA keys take time: the first take found the pool empty");
        assert_eq!(pool.pool_use().empty, empty, "each empty take counted, a successful one not");
    }

    #[test]
    fn a_key_that_was_not_destroyed_makes_its_maker_close_its_session() {
        let store = Arc::new(MemoryKeyStore::new());
        let pool = KeyPool::start(Arc::clone(&store), KeyAlgorithm::P256, 3, 1);
        filled(&pool, 3);
        let pooled = pool.take().unwrap();
        let session = store.session().unwrap();
        let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
        session.sign_digest(&pooled.key, scheme, &[7; 32]).unwrap();
        // As if the token had refused C_DestroyObject: the guard sets the maker's flag, and the
        // maker closes its session, taking the stranded key (and the two waiting) with it.
        pooled.maker.store(true, Ordering::Release);
        let started = std::time::Instant::now();
        while session.sign_digest(&pooled.key, scheme, &[7; 32]).is_ok() {
            assert!(started.elapsed() < Duration::from_secs(30), "the maker never closed its session");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The pool refills from a new session.
        filled(&pool, 3);
        assert_eq!(session_keys(&store), 3);
    }
}
