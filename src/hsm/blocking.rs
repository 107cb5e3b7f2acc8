//! Running key-store work from async code.
//!
//! PKCS#11 calls block, so they run on tokio's blocking pool. A call that does not finish
//! before its deadline answers [`Error::Timeout`] to its caller; the blocking thread finishes
//! the PKCS#11 call in the background (a C call cannot be cancelled) and its session then goes
//! back to the pool.

use std::sync::Arc;
use std::time::Duration;

use super::{Error, KeyStore, Result, TokenStatus};

/// Check out a session and run `work` on it on the blocking pool, within `deadline`. `work`
/// may return any error type that HSM errors convert into.
///
/// # Errors
/// [`Error::Timeout`] past the deadline; whatever checking out a session or `work` returned.
pub async fn with_session<K, T, E, F>(store: &Arc<K>, deadline: Duration, work: F) -> Result<T, E>
where
    K: KeyStore,
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: FnOnce(&K::Session) -> Result<T, E> + Send + 'static,
{
    let store = Arc::clone(store);
    run(deadline, move || work(&store.session()?)).await
}

/// [`KeyStore::status`] on the blocking pool, within `deadline`.
///
/// # Errors
/// As [`with_session`].
pub async fn status<K: KeyStore>(store: &Arc<K>, deadline: Duration) -> Result<TokenStatus> {
    let store = Arc::clone(store);
    run(deadline, move || store.status()).await
}

async fn run<T, E, F>(deadline: Duration, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Ok(Err(_)) | Err(_) => Err(Error::Timeout(deadline).into()),
    }
}
