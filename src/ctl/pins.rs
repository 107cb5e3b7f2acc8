//! PINs for `esignctl`: from a file named on the command line, or typed at a prompt (twice
//! when a new PIN is being set). Never from argv, where every user of the machine can read it.

use std::path::Path;

use crate::hsm::Pin;
use zeroize::Zeroizing;

use super::CtlError;
use crate::config::PinSource;

/// Read the PIN from `file`, or prompt for it on the terminal.
pub(super) fn read(
    file: Option<&Path>,
    what: &'static str,
    flag: &'static str,
    confirm: bool,
) -> Result<Pin, CtlError> {
    if let Some(path) = file {
        return Ok(PinSource::File(path.to_owned()).read()?);
    }
    let prompt = |text: String| {
        rpassword::prompt_password(text).map(Zeroizing::new).map_err(|e| CtlError::Pin {
            what,
            reason: format!("no terminal to prompt on ({e})"),
            flag,
        })
    };
    let first = prompt(format!("{what}: "))?;
    if confirm && *prompt(format!("{what} again: "))? != *first {
        return Err(CtlError::Pin { what, reason: "the two entries differ".to_owned(), flag });
    }
    crate::config::pin_from_bytes(first.as_bytes()).ok_or(CtlError::Pin {
        what,
        reason: "it is empty".to_owned(),
        flag,
    })
}
