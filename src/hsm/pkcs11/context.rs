//! The process-wide PKCS#11 context.
//!
//! `C_Initialize` is once per process and library: a second call returns
//! `CKR_CRYPTOKI_ALREADY_INITIALIZED`, and `C_Finalize` would pull every session out from under
//! every other user. So each module path is loaded and initialised once and the context shared
//! (cryptoki's `Pkcs11` is a cheap `Arc` clone); it is never finalised while the process runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};

use crate::hsm::{Error, Result};

static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The initialised context for `module`, loading it on first use.
///
/// # Errors
/// [`Error::Module`] when the library cannot be loaded or refuses to initialise.
pub fn load(module: &Path) -> Result<Pkcs11> {
    let mut contexts = CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    if !module.is_file() {
        return Err(Error::ModuleMissing { path: module.to_owned() });
    }
    let module_error = |source| Error::Module { path: module.to_owned(), source };
    let ctx = Pkcs11::new(module).map_err(module_error)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(module_error(e)),
    }
    contexts.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}
