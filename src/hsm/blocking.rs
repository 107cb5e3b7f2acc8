//! Running key-store work from async code.
//!
//! PKCS#11 calls block, so they run on tokio's blocking pool. [`AsyncKeys`] lets at most as
//! many calls onto that pool as the store has sessions: the others wait for a permit as async
//! tasks, costing nothing, instead of as blocking threads parked on the pool's condition
//! variable, which on a small machine spends the CPU the HSM work needs on context switches
//! (measured: p99 at concurrency 64 fell from about 130 ms to 55 ms, `benches/load.rs`).
//!
//! Each call has one deadline. A caller still waiting for a permit when it passes gets
//! [`Error::Busy`] (every session is in use: retry later); one whose call is still running gets
//! [`Error::Timeout`], and the blocking thread finishes the PKCS#11 call in the background (a C
//! call cannot be cancelled) and only then gives its permit and its session back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Error, KeyStore, Result, TokenStatus};

/// A key store for async callers: blocking work bounded by the number of sessions and a
/// deadline per call.
pub struct AsyncKeys<K> {
    store: Arc<K>,
    permits: Arc<Semaphore>,
    sessions: usize,
    deadline: Duration,
    waits: AtomicU64,
}

/// How the session pool is used (for the operator's metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUse {
    /// Calls that may run at once.
    pub sessions: usize,
    /// Calls running now.
    pub in_use: usize,
    /// Calls, since start, that found every session taken and waited.
    pub waits: u64,
}

impl<K: KeyStore> AsyncKeys<K> {
    /// At most `sessions` calls at once (the store's pool size), each within `deadline`.
    pub fn new(store: Arc<K>, sessions: usize, deadline: Duration) -> Self {
        let sessions = sessions.max(1);
        Self { store, permits: Arc::new(Semaphore::new(sessions)), sessions, deadline, waits: AtomicU64::new(0) }
    }

    /// How the pool is used now.
    pub fn pool_use(&self) -> PoolUse {
        PoolUse {
            sessions: self.sessions,
            in_use: self.sessions.saturating_sub(self.permits.available_permits()),
            waits: self.waits.load(Ordering::Relaxed),
        }
    }

    /// The key store itself, for blocking callers.
    pub fn store(&self) -> &Arc<K> {
        &self.store
    }

    /// Check out a session and run `work` on it on the blocking pool. `work` may return any
    /// error type that HSM errors convert into.
    ///
    /// # Errors
    /// [`Error::Busy`] when no session freed up before the deadline, [`Error::Timeout`] when the
    /// call itself outlived it; whatever checking out a session or `work` returned.
    pub async fn with_session<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&K::Session) -> Result<T, E> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        self.run(move || work(&store.session()?)).await
    }

    /// [`KeyStore::status`] on the blocking pool, within the deadline.
    ///
    /// # Errors
    /// As [`AsyncKeys::with_session`].
    pub async fn status(&self) -> Result<TokenStatus> {
        let store = Arc::clone(&self.store);
        self.run(move || store.status()).await
    }

    async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce() -> Result<T, E> + Send + 'static,
    {
        let until = tokio::time::Instant::now() + self.deadline;
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.waits.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout_at(until, Arc::clone(&self.permits).acquire_owned()).await {
                    Ok(permit) => permit.expect("the semaphore is never closed"),
                    Err(_) => return Err(Error::Busy(self.deadline).into()),
                }
            }
        };
        let call = tokio::task::spawn_blocking(move || {
            let _held_until_the_call_returns = permit;
            work()
        });
        match tokio::time::timeout_at(until, call).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Ok(Err(_)) | Err(_) => Err(Error::Timeout(self.deadline).into()),
        }
    }
}

#[cfg(all(test, feature = "memory-keystore"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::hsm::memory::MemoryKeyStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_calls_run_at_once_than_there_are_permits() {
        let keys = Arc::new(AsyncKeys::new(Arc::new(MemoryKeyStore::new()), 2, Duration::from_secs(10)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (keys, running, most) = (Arc::clone(&keys), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    keys.with_session(move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Error>(())
                    })
                    .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_times_out_and_keeps_its_permit_until_it_returns_meanwhile_others_are_busy() {
        let keys = AsyncKeys::new(Arc::new(MemoryKeyStore::new()), 1, Duration::from_millis(50));
        let slow = keys.with_session(|_| {
            std::thread::sleep(Duration::from_millis(300));
            Ok::<_, Error>(())
        });
        assert!(matches!(slow.await, Err(Error::Timeout(_))));
        // The slow call still runs and holds the only permit: the next caller is told it is busy.
        let next = keys.with_session(|_| Ok::<_, Error>(()));
        assert!(matches!(next.await, Err(Error::Busy(_))));
        // Once it returns, the permit is back.
        let started = std::time::Instant::now();
        while keys.with_session(|_| Ok::<_, Error>(())).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "the permit never came back");
        }
    }
}
