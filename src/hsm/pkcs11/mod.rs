//! The real key store: a PKCS#11 token through `cryptoki`.
//!
//! [`Pkcs11KeyStore::open`] loads the module (once per process, see [`context`]), finds the
//! token by label or serial, logs in once and keeps a pool of sessions (see `pool`).

pub mod context;
mod pool;
mod session;
pub mod templates;
pub mod token;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cryptoki::session::SessionState;
use cryptoki::types::AuthPin;

pub use session::{Pkcs11Handle, Pkcs11Session};
pub use token::TokenSelector;

use self::pool::Pool;
use super::{KeyStore, Result, TokenStatus};

/// What it takes to open a token.
pub struct Pkcs11Settings {
    /// Path of the PKCS#11 module.
    pub module: PathBuf,
    /// Which token.
    pub token: TokenSelector,
    /// The user PIN.
    pub pin: AuthPin,
    /// Size of the session pool.
    pub sessions: usize,
    /// How long a caller waits for a free session.
    pub call_timeout: Duration,
}

/// A logged-in PKCS#11 token with a session pool.
#[derive(Clone)]
pub struct Pkcs11KeyStore {
    pool: Arc<Pool>,
}

impl Pkcs11KeyStore {
    /// Load the module, find the token, log in and open the pool.
    ///
    /// # Errors
    /// [`super::Error::ModuleMissing`], [`super::Error::TokenNotFound`],
    /// [`super::Error::PinIncorrect`] (tried once, never again), module errors.
    pub fn open(settings: Pkcs11Settings) -> Result<Self> {
        let ctx = context::load(&settings.module)?;
        let (slot, token) = token::find(&ctx, &settings.token)?;
        let pool = Pool::open(ctx, slot, token.label, settings.pin, settings.sessions, settings.call_timeout)?;
        Ok(Self { pool })
    }
}

impl KeyStore for Pkcs11KeyStore {
    type Session = Pkcs11Session;

    fn session(&self) -> Result<Pkcs11Session> {
        self.pool.checkout()
    }

    fn own_session(&self) -> Result<Pkcs11Session> {
        self.pool.open_own()
    }

    fn status(&self) -> Result<TokenStatus> {
        let session = self.session()?;
        let info = self.pool.ctx.get_token_info(self.pool.slot)?;
        let logged_in = session.session_state()? == SessionState::RwUser;
        Ok(TokenStatus {
            label: info.label().trim_end().to_owned(),
            serial: info.serial_number().trim_end().to_owned(),
            model: info.model().trim_end().to_owned(),
            logged_in,
        })
    }
}
