//! The session pool: one logged-in user, a bounded number of sessions, and repair.
//!
//! - Login happens once per application and token: an anchor session stays open for the
//!   pool's whole life, because closing the last session logs the application out.
//! - Sessions are handed out owned ([`Pkcs11Session`]) and come back on drop; a session that saw
//!   a fatal error (handle invalid, device error, login lost) is closed instead, and the next
//!   checkout opens a fresh one and logs in again.
//! - An idle session is checked with `C_GetSessionInfo` before it is handed out, so one closed
//!   underneath us while idle is replaced rather than failing a transaction.
//! - Waiting for a free session is bounded by the per-call deadline.
//! - A PIN the token rejected is never tried again: the pool remembers the rejection and fails
//!   fast, so a wrong configuration cannot lock the token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::session::Pkcs11Session;
use super::token;
use crate::hsm::{Error, Result};

/// Shared state behind every [`Pkcs11Session`] of one token.
pub(crate) struct Pool {
    pub(crate) ctx: Pkcs11,
    pub(crate) slot: Slot,
    pub(crate) token_label: String,
    pin: AuthPin,
    size: usize,
    wait: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
    anchor: Mutex<Option<Session>>,
    pin_rejected: AtomicBool,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Session>,
    checked_out: usize,
}

impl Pool {
    /// Open the anchor session and log in. Fails at once on a wrong PIN.
    pub(crate) fn open(
        ctx: Pkcs11,
        slot: Slot,
        token_label: String,
        pin: AuthPin,
        size: usize,
        wait: Duration,
    ) -> Result<Arc<Self>> {
        let pool = Arc::new(Self {
            ctx,
            slot,
            token_label,
            pin,
            size: size.max(1),
            wait,
            state: Mutex::default(),
            freed: Condvar::new(),
            anchor: Mutex::new(None),
            pin_rejected: AtomicBool::new(false),
        });
        let anchor = pool.open_session()?;
        *lock(&pool.anchor) = Some(anchor);
        Ok(pool)
    }

    /// Check out a session, waiting at most the per-call deadline for one to free up.
    pub(crate) fn checkout(self: &Arc<Self>) -> Result<Pkcs11Session> {
        let reused = self.reserve()?;
        // From here on we hold a reservation; give it back if opening a session fails.
        let session = match reused {
            Some(session) if self.healthy(&session) => Ok(session),
            Some(stale) => {
                tracing::info!(token = %self.token_label, "an idle HSM session is no longer usable; opening a new one");
                drop(stale);
                self.open_session()
            }
            None => self.open_session(),
        };
        match session {
            Ok(session) => Ok(Pkcs11Session::new(Arc::clone(self), session)),
            Err(e) => {
                self.release(None);
                Err(e)
            }
        }
    }

    /// A session outside the pool's bound, closed (not returned) when dropped.
    pub(crate) fn open_own(self: &Arc<Self>) -> Result<Pkcs11Session> {
        Ok(Pkcs11Session::own(Arc::clone(self), self.open_session()?))
    }

    /// Reserve a place in the pool: an idle session, or the right to open a new one.
    fn reserve(&self) -> Result<Option<Session>> {
        let deadline = Instant::now() + self.wait;
        let mut state = lock(&self.state);
        loop {
            if let Some(session) = state.idle.pop() {
                state.checked_out += 1;
                return Ok(Some(session));
            }
            if state.checked_out < self.size {
                state.checked_out += 1;
                return Ok(None);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::Busy(self.wait));
            }
            state = self.freed.wait_timeout(state, remaining).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Give a reservation back, with its session when that session is still good.
    pub(crate) fn release(&self, session: Option<Session>) {
        let mut state = lock(&self.state);
        state.checked_out -= 1;
        if let Some(session) = session {
            state.idle.push(session);
        }
        drop(state);
        self.freed.notify_one();
    }

    /// Whether an idle session can still be used, logging in again if the login was lost.
    fn healthy(&self, session: &Session) -> bool {
        match session.get_session_info() {
            Ok(info) if info.session_state() == SessionState::RwUser => true,
            Ok(_) => self.login(session).is_ok(),
            Err(_) => false,
        }
    }

    /// Open a read-write session and make sure the application is logged in.
    fn open_session(&self) -> Result<Session> {
        let session = self.ctx.open_rw_session(self.slot)?;
        self.login(&session)?;
        self.repair_anchor();
        Ok(session)
    }

    fn login(&self, session: &Session) -> Result<()> {
        if self.pin_rejected.load(Ordering::Acquire) {
            return Err(Error::PinIncorrect { token: self.token_label.clone(), who: "user", warning: "" });
        }
        token::login(&self.ctx, self.slot, session, UserType::User, &self.pin, &self.token_label).inspect_err(|e| {
            if matches!(e, Error::PinIncorrect { .. } | Error::PinLocked { .. }) {
                self.pin_rejected.store(true, Ordering::Release);
            }
        })
    }

    /// Replace the anchor session if it was closed underneath us (a token reset closes every
    /// session), so the login outlives the pool's own sessions again.
    fn repair_anchor(&self) {
        let mut anchor = lock(&self.anchor);
        let alive = anchor.as_ref().is_some_and(|s| s.get_session_info().is_ok());
        if !alive && anchor.is_some() {
            // During `open` the anchor does not exist yet; afterwards a dead one is replaced.
            if let Ok(fresh) = self.ctx.open_rw_session(self.slot) {
                *anchor = Some(fresh);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
