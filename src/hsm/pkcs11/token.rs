//! Tokens and slots: finding the configured token, listing what the module offers, and the
//! security officer's token operations (initialise, set or reset the user PIN).
//!
//! Tokens are always chosen by label or serial, never by slot index: SoftHSM renumbers slots
//! whenever a token is initialised, and network HSMs renumber them across restarts.

use std::fmt;

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::session::UserType;
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;

use crate::hsm::{Error, Result};

/// How the configuration names its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// `CKA_LABEL` of the token (`[hsm] token_label`).
    Label(String),
    /// Serial number of the token (`[hsm] token_serial`).
    Serial(String),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Label(label) => write!(f, "labelled '{label}'"),
            Self::Serial(serial) => write!(f, "with serial '{serial}'"),
        }
    }
}

/// One slot as `esignctl token list` shows it. No login is needed to read it.
#[derive(Clone, Debug)]
pub struct SlotReport {
    /// The slot id (informational only; it changes).
    pub slot_id: u64,
    /// `None` for a slot without a token.
    pub token: Option<TokenReport>,
}

/// A token's public description.
#[derive(Clone, Debug)]
pub struct TokenReport {
    /// Token label.
    pub label: String,
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Flags worth an operator's attention, e.g. `initialized`, `user-pin-locked`.
    pub flags: Vec<&'static str>,
}

impl TokenReport {
    fn from_info(info: &TokenInfo) -> Self {
        Self {
            label: info.label().trim_end().to_owned(),
            serial: info.serial_number().trim_end().to_owned(),
            model: info.model().trim_end().to_owned(),
            manufacturer: info.manufacturer_id().trim_end().to_owned(),
            flags: token_flags(info),
        }
    }

    /// Whether the token has been initialised (an uninitialised one is a free slot for
    /// `esignctl token init`).
    pub fn initialized(&self) -> bool {
        self.flags.contains(&"initialized")
    }
}

fn token_flags(info: &TokenInfo) -> Vec<&'static str> {
    let flags = [
        (info.token_initialized(), "initialized"),
        (info.user_pin_initialized(), "user-pin-initialized"),
        (info.login_required(), "login-required"),
        (info.write_protected(), "write-protected"),
        (info.user_pin_count_low(), "user-pin-count-low"),
        (info.user_pin_final_try(), "user-pin-final-try"),
        (info.user_pin_locked(), "user-pin-locked"),
        (info.user_pin_to_be_changed(), "user-pin-to-be-changed"),
        (info.so_pin_locked(), "so-pin-locked"),
        (info.protected_authentication_path(), "protected-authentication-path"),
    ];
    flags.into_iter().filter_map(|(set, name)| set.then_some(name)).collect()
}

/// Every slot the module reports, with its token if one is present.
///
/// # Errors
/// Module errors.
pub fn list(ctx: &Pkcs11) -> Result<Vec<SlotReport>> {
    let with_token = ctx.get_slots_with_token()?;
    ctx.get_all_slots()?
        .into_iter()
        .map(|slot| {
            let token = if with_token.contains(&slot) {
                Some(TokenReport::from_info(&ctx.get_token_info(slot)?))
            } else {
                None
            };
            Ok(SlotReport { slot_id: slot.id(), token })
        })
        .collect()
}

/// The slot holding the selected token.
///
/// # Errors
/// [`Error::TokenNotFound`] (naming the tokens that are present) or
/// [`Error::TokenAmbiguous`].
pub fn find(ctx: &Pkcs11, selector: &TokenSelector) -> Result<(Slot, TokenReport)> {
    let mut present = Vec::new();
    let mut matches = Vec::new();
    for slot in ctx.get_slots_with_initialized_token()? {
        let token = TokenReport::from_info(&ctx.get_token_info(slot)?);
        let hit = match selector {
            TokenSelector::Label(label) => &token.label == label,
            TokenSelector::Serial(serial) => &token.serial == serial,
        };
        present.push(format!("'{}' (serial {})", token.label, token.serial));
        if hit {
            matches.push((slot, token));
        }
    }
    match matches.len() {
        0 => Err(Error::TokenNotFound { wanted: selector.to_string(), present }),
        1 => Ok(matches.remove(0)),
        count => Err(Error::TokenAmbiguous {
            label: match selector {
                TokenSelector::Label(l) | TokenSelector::Serial(l) => l.clone(),
            },
            count,
        }),
    }
}

/// Initialise a new token labelled `label` in the first slot whose token is not yet
/// initialised (`C_InitToken`), then set its user PIN (`C_InitPIN` as the security officer).
///
/// # Errors
/// [`Error::ObjectExists`] when a token with that label exists already (esignd never
/// re-initialises a token, which would wipe its keys); [`Error::TokenNotFound`] when no free
/// slot exists; module errors.
pub fn init(ctx: &Pkcs11, label: &str, so_pin: &AuthPin, user_pin: &AuthPin) -> Result<TokenReport> {
    match find(ctx, &TokenSelector::Label(label.to_owned())) {
        Ok((_, existing)) => {
            return Err(Error::TokenExists { label: label.to_owned(), serial: existing.serial });
        }
        Err(Error::TokenNotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let free = ctx
        .get_slots_with_token()?
        .into_iter()
        .find(|slot| ctx.get_token_info(*slot).is_ok_and(|info| !info.token_initialized()))
        .ok_or_else(|| Error::TokenNotFound {
            wanted: "with a free (uninitialised) slot".to_owned(),
            present: vec![],
        })?;
    ctx.init_token(free, so_pin, label)?;
    // SoftHSM moves a freshly initialised token to a new slot id: look it up again by label.
    let (slot, _) = find(ctx, &TokenSelector::Label(label.to_owned()))?;
    let session = ctx.open_rw_session(slot)?;
    session.login(UserType::So, Some(so_pin))?;
    session.init_pin(user_pin)?;
    session.logout()?;
    drop(session);
    Ok(TokenReport::from_info(&ctx.get_token_info(slot)?))
}

/// Change the user PIN (`C_SetPIN`), knowing the old one.
///
/// # Errors
/// [`Error::PinIncorrect`] when the old PIN is wrong; module errors.
pub fn change_user_pin(ctx: &Pkcs11, selector: &TokenSelector, old: &AuthPin, new: &AuthPin) -> Result<()> {
    let (slot, token) = find(ctx, selector)?;
    let session = ctx.open_rw_session(slot)?;
    login(ctx, slot, &session, UserType::User, old, &token.label)?;
    session.set_pin(old, new)?;
    Ok(())
}

/// Reset a forgotten or locked user PIN as the security officer (`C_InitPIN`).
///
/// # Errors
/// [`Error::PinIncorrect`] when the SO PIN is wrong; module errors.
pub fn reset_user_pin(ctx: &Pkcs11, selector: &TokenSelector, so_pin: &AuthPin, new: &AuthPin) -> Result<()> {
    let (slot, token) = find(ctx, selector)?;
    let session = ctx.open_rw_session(slot)?;
    login(ctx, slot, &session, UserType::So, so_pin, &token.label)?;
    session.init_pin(new)?;
    session.logout()?;
    Ok(())
}

/// `C_Login`, once. `CKR_USER_ALREADY_LOGGED_IN` counts as success: login is per application,
/// not per session, so while this process holds a logged-in session on the token the token
/// does not look at the PIN again. A rejected PIN becomes [`Error::PinIncorrect`] with the token's warning
/// flags, and is never retried here.
///
/// # Errors
/// [`Error::PinIncorrect`], [`Error::PinLocked`], module errors.
pub(crate) fn login(
    ctx: &Pkcs11,
    slot: Slot,
    session: &cryptoki::session::Session,
    user: UserType,
    pin: &AuthPin,
    token_label: &str,
) -> Result<()> {
    match session.login(user, Some(pin)) {
        Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CryptokiError::Pkcs11(RvError::PinIncorrect, _)) => {
            let flags = ctx.get_token_info(slot).map(|info| token_flags(&info)).unwrap_or_default();
            let warning = if flags.contains(&"user-pin-final-try") {
                ", and the token says the next wrong PIN locks it"
            } else if flags.contains(&"user-pin-count-low") {
                ", and the token says few tries are left"
            } else {
                ""
            };
            let who = if matches!(user, UserType::So) { "security officer" } else { "user" };
            Err(Error::PinIncorrect { token: token_label.to_owned(), who, warning })
        }
        Err(CryptokiError::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked { token: token_label.to_owned() }),
        Err(e) => Err(e.into()),
    }
}
