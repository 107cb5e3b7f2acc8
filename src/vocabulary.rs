//! The values every layer shares, parsed once at the door and carried typed to the store's
//! encoding: the signature [`Format`], a checked [`Digest`], and the states of sessions
//! ([`SessionState`]), device requests ([`RequestState`]) and device certificates
//! ([`CertificateState`], [`CertificateStatus`]); the text shown before signing
//! ([`display_text`]).
//!
//! Text appears only at the edges: the names here are the wire's and the store's spellings, and
//! nothing in between compares strings against them.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::hsm::HashAlgorithm;

pub mod display_text;

/// The signature format an eService asks for (GovStack `format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// CAdES baseline (ETSI EN 319 122-1): detached, with signing-time.
    #[serde(rename = "CAdES")]
    Cades,
    /// PAdES baseline (EN 319 142-1), SubFilter ETSI.CAdES.detached: the same CMS without
    /// signing-time (the PDF signature dictionary carries the time).
    #[serde(rename = "PAdES")]
    Pades,
}

impl Format {
    /// GovStack's name: `CAdES` or `PAdES`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cades => "CAdES",
            Self::Pades => "PAdES",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name esignd does not produce.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("format {0:?} is not supported; esignd produces CAdES and PAdES")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// `CAdES` or `PAdES`, in any case.
    fn from_str(text: &str) -> Result<Self, UnknownFormat> {
        [Self::Cades, Self::Pades]
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownFormat(text.to_owned()))
    }
}

/// A document digest that has the length of its algorithm: made only through [`Digest::new`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredDigest", into = "StoredDigest")]
pub struct Digest {
    hash: HashAlgorithm,
    bytes: Vec<u8>,
}

/// Why bytes are not a digest of the algorithm named with them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("hash is {got} bytes, but {hash} digests are {}", hash.output_len())]
pub struct DigestLength {
    /// The algorithm named.
    pub hash: HashAlgorithm,
    /// Bytes given.
    pub got: usize,
}

impl Digest {
    /// `bytes` as a digest made with `hash`.
    ///
    /// # Errors
    /// [`DigestLength`] when `bytes` is not as long as `hash`'s digests.
    pub fn new(hash: HashAlgorithm, bytes: Vec<u8>) -> Result<Self, DigestLength> {
        if bytes.len() == hash.output_len() {
            Ok(Self { hash, bytes })
        } else {
            Err(DigestLength { hash, got: bytes.len() })
        }
    }

    /// The digest of `data` made with `hash` here.
    pub fn of(hash: HashAlgorithm, data: &[u8]) -> Self {
        Self { hash, bytes: hash.digest(data) }
    }

    /// The algorithm that made it.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The digest.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The digest in lowercase hex (what the signing page shows, in groups).
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({}:{})", self.hash, self.hex())
    }
}

/// A digest as sessions and device requests store it (their JSON bodies have always carried
/// these two members).
#[derive(Serialize, Deserialize)]
struct StoredDigest {
    digest_hex: String,
    hash_type: String,
}

impl From<Digest> for StoredDigest {
    fn from(digest: Digest) -> Self {
        Self { digest_hex: digest.hex(), hash_type: digest.hash.name().to_owned() }
    }
}

impl TryFrom<StoredDigest> for Digest {
    type Error = String;

    fn try_from(stored: StoredDigest) -> Result<Self, String> {
        let hash = HashAlgorithm::from_str(&stored.hash_type).map_err(|e| e.to_string())?;
        let bytes = hex::decode(&stored.digest_hex).map_err(|e| e.to_string())?;
        Digest::new(hash, bytes).map_err(|e| e.to_string())
    }
}

/// Spellings shared by the state enums: the name the store and the wire use, and its parse.
macro_rules! named_states {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The spelling the store and the wire use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, UnknownState> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownState { what: $what, value: other.to_owned() }),
                }
            }
        }
    };
}

/// A state name that is not one of its enum's (a damaged store, or a newer esignd's).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {what} {value:?}")]
pub struct UnknownState {
    /// Which kind of state.
    pub what: &'static str,
    /// The name found.
    pub value: String,
}

named_states! {
    /// Where a signing session is (see `service::sessions::model` for the moves between them).
    SessionState, "session state" {
        /// Created; the user has not chosen yet.
        Pending => "pending",
        /// The user is at the ID provider.
        Authenticating => "authenticating",
        /// The user came back; the signature is being made.
        Signing => "signing",
        /// Waiting for the user's own device.
        Device => "device",
        /// Done, with a signature to redeem.
        Signed => "signed",
        /// Over without a signature.
        Failed => "failed",
    }
}

named_states! {
    /// Where a signing request queued for a user's device is.
    RequestState, "device request state" {
        /// Waiting for the device.
        Pending => "pending",
        /// The device signed; the signature waits for redemption.
        Signed => "signed",
        /// The user said no on the device.
        Refused => "refused",
        /// The device did not answer in time.
        Expired => "expired",
        /// The device's certificate was suspended or revoked meanwhile.
        Failed => "failed",
    }
}

named_states! {
    /// The stored state of a device certificate (GovStack's lifecycle; EXPIRED is read off
    /// notAfter, see [`CertificateStatus`]).
    CertificateState, "certificate state" {
        /// In use: the device may sign.
        Active => "ACTIVE",
        /// On hold (CRL reason certificateHold); may be reactivated.
        Suspended => "SUSPENDED",
        /// Withdrawn for good.
        Revoked => "REVOKED",
    }
}

named_states! {
    /// How a device certificate stands at a moment: its stored state, or EXPIRED past notAfter.
    CertificateStatus, "certificate status" {
        /// ACTIVE and within its validity.
        Active => "ACTIVE",
        /// SUSPENDED and within its validity.
        Suspended => "SUSPENDED",
        /// REVOKED and within its validity.
        Revoked => "REVOKED",
        /// Past notAfter, whatever its stored state.
        Expired => "EXPIRED",
    }
}

impl CertificateStatus {
    /// The status at `now` of a certificate in `state` valid until `not_after`.
    pub fn at(state: CertificateState, not_after: SystemTime, now: SystemTime) -> Self {
        if not_after < now {
            return Self::Expired;
        }
        match state {
            CertificateState::Active => Self::Active,
            CertificateState::Suspended => Self::Suspended,
            CertificateState::Revoked => Self::Revoked,
        }
    }
}

/// A time as the wire writes it: RFC 3339 UTC to the second (`2026-11-23T09:12:28Z`).
pub fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(since.as_secs()))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The time an RFC 3339 UTC timestamp names (`2026-12-01T18:00:00Z`, fractions of a second
/// ignored); `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let time = time.split('.').next()?;
    let number = |s: &str| s.parse::<u16>().ok();
    let mut date = date.split('-').map(number);
    let mut time = time.split(':').map(number);
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    let at = der::DateTime::new(year, month as u8, day as u8, hour as u8, minute as u8, second as u8).ok()?;
    Some(SystemTime::UNIX_EPOCH + at.unix_duration())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_parse_in_any_case_and_serialise_by_their_names() {
        assert_eq!("cades".parse::<Format>(), Ok(Format::Cades));
        assert_eq!("PAdES".parse::<Format>(), Ok(Format::Pades));
        assert_eq!(
            "JWS".parse::<Format>().unwrap_err().to_string(),
            "format \"JWS\" is not supported; esignd produces CAdES and PAdES"
        );
        assert_eq!(serde_json::to_string(&Format::Pades).unwrap(), "\"PAdES\"");
    }

    #[test]
    fn a_digest_has_its_algorithms_length_and_stores_as_before() {
        let short = Digest::new(HashAlgorithm::Sha256, vec![0; 20]).unwrap_err();
        assert_eq!(short.to_string(), "hash is 20 bytes, but SHA2-256 digests are 32");
        let digest = Digest::new(HashAlgorithm::Sha384, vec![7; 48]).unwrap();
        let stored = serde_json::to_value(&digest).unwrap();
        assert_eq!(stored["hash_type"], "SHA2-384");
        assert_eq!(stored["digest_hex"], "07".repeat(48));
        assert_eq!(serde_json::from_value::<Digest>(stored).unwrap(), digest);
        // Bodies written before the digest was typed spelled the hash as the eService did.
        let old = serde_json::json!({ "digest_hex": "00".repeat(32), "hash_type": "sha256" });
        assert_eq!(serde_json::from_value::<Digest>(old).unwrap().hash(), HashAlgorithm::Sha256);
        let damaged = serde_json::json!({ "digest_hex": "00", "hash_type": "SHA2-256" });
        assert!(serde_json::from_value::<Digest>(damaged).is_err());
    }

    #[test]
    fn states_round_trip_through_their_names_and_refuse_others() {
        for state in [SessionState::Pending, SessionState::Device, SessionState::Failed] {
            assert_eq!(state.as_str().parse::<SessionState>(), Ok(state));
        }
        assert_eq!(RequestState::Refused.as_str(), "refused");
        assert_eq!(CertificateState::Suspended.as_str(), "SUSPENDED");
        let error = "ACTIVATED".parse::<CertificateState>().unwrap_err();
        assert_eq!(error.to_string(), "unknown certificate state \"ACTIVATED\"");
    }

    #[test]
    fn a_certificate_past_not_after_is_expired_whatever_its_state() {
        let now = SystemTime::now();
        let later = now + Duration::from_secs(60);
        assert_eq!(CertificateStatus::at(CertificateState::Suspended, later, now), CertificateStatus::Suspended);
        assert_eq!(
            CertificateStatus::at(CertificateState::Active, now - Duration::from_secs(1), now),
            CertificateStatus::Expired
        );
    }
}
