//! The RFC 3161 types, typed on the `der` 0.8 stack (no published crate fits it; DESIGN §11).
//! Each type carries its ASN.1 definition from RFC 3161 §2.4.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString, Uint};
use der::{DateTime, DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;

/// ```text
/// MessageImprint ::= SEQUENCE {
///     hashAlgorithm AlgorithmIdentifier,
///     hashedMessage OCTET STRING }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct MessageImprint {
    /// The hash algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The hash of the data being timestamped.
    pub hashed_message: OctetString,
}

/// ```text
/// TimeStampReq ::= SEQUENCE {
///     version        INTEGER { v1(1) },
///     messageImprint MessageImprint,
///     reqPolicy      TSAPolicyId OPTIONAL,
///     nonce          INTEGER OPTIONAL,
///     certReq        BOOLEAN DEFAULT FALSE,
///     extensions     [0] IMPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TimeStampReq {
    /// Always 1.
    pub version: u8,
    /// What is to be timestamped.
    pub message_imprint: MessageImprint,
    /// The policy the requester wants, if any.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// A random number echoed in the token against replay.
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    /// Whether the TSA certificate must be in the token.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// Request extensions (esignd supports none).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// ```text
/// TimeStampResp ::= SEQUENCE {
///     status         PKIStatusInfo,
///     timeStampToken TimeStampToken OPTIONAL }
/// ```
/// The token (a ContentInfo) is kept as `Any` so that its exact bytes survive.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TimeStampResp {
    /// Granted or not, and why.
    pub status: PkiStatusInfo,
    /// The token, when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<der::Any>,
}

/// ```text
/// PKIStatusInfo ::= SEQUENCE {
///     status       PKIStatus,
///     statusString PKIFreeText OPTIONAL,
///     failInfo     PKIFailureInfo OPTIONAL }
/// PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct PkiStatusInfo {
    /// A [`status`] value.
    pub status: u8,
    /// Free text for humans.
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// A [`failure`] bit.
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `PKIStatus` values (RFC 3161 §2.4.2).
pub mod status {
    /// A token is included.
    pub const GRANTED: u8 = 0;
    /// A token is included, with modifications.
    pub const GRANTED_WITH_MODS: u8 = 1;
    /// Refused; failInfo says why.
    pub const REJECTION: u8 = 2;

    /// A name for logs and errors.
    pub fn name(status: u8) -> &'static str {
        match status {
            0 => "granted",
            1 => "grantedWithMods",
            2 => "rejection",
            3 => "waiting",
            4 => "revocationWarning",
            5 => "revocationNotification",
            _ => "unknown status",
        }
    }
}

/// `PKIFailureInfo` bits (RFC 3161 §2.4.2).
pub mod failure {
    /// Unrecognized or unsupported algorithm.
    pub const BAD_ALG: usize = 0;
    /// Transaction not permitted or supported.
    pub const BAD_REQUEST: usize = 2;
    /// The data submitted has the wrong format.
    pub const BAD_DATA_FORMAT: usize = 5;
    /// The requested TSA policy is not supported.
    pub const UNACCEPTED_POLICY: usize = 15;
    /// The requested extension is not supported.
    pub const UNACCEPTED_EXTENSION: usize = 16;
    /// The request cannot be handled due to system failure.
    pub const SYSTEM_FAILURE: usize = 25;

    /// A name for the lowest bit set in `bits`, for errors.
    pub fn name(bits: &der::asn1::BitString) -> &'static str {
        let set = bits.bits().position(|b| b).unwrap_or(usize::MAX);
        match set {
            0 => "badAlg",
            2 => "badRequest",
            5 => "badDataFormat",
            14 => "timeNotAvailable",
            15 => "unacceptedPolicy",
            16 => "unacceptedExtension",
            17 => "addInfoNotAvailable",
            25 => "systemFailure",
            _ => "unknown failure",
        }
    }

    /// The DER named-bit-list encoding of a single failure bit (trailing zero bits dropped).
    pub fn bit(bit: usize) -> der::asn1::BitString {
        let mut bytes = vec![0u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        der::asn1::BitString::new((7 - bit % 8) as u8, bytes).expect("a valid named bit")
    }
}

/// ```text
/// TSTInfo ::= SEQUENCE {
///     version        INTEGER { v1(1) },
///     policy         TSAPolicyId,
///     messageImprint MessageImprint,
///     serialNumber   INTEGER,
///     genTime        GeneralizedTime,
///     accuracy       Accuracy OPTIONAL,
///     ordering       BOOLEAN DEFAULT FALSE,
///     nonce          INTEGER OPTIONAL,
///     tsa            [0] GeneralName OPTIONAL,
///     extensions     [1] IMPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TstInfo {
    /// Always 1.
    pub version: u8,
    /// The TSA's policy.
    pub policy: ObjectIdentifier,
    /// The imprint from the request.
    pub message_imprint: MessageImprint,
    /// Unique per token.
    pub serial_number: Uint,
    /// When the token was made.
    pub gen_time: GenTime,
    /// How far genTime may be off.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// Whether tokens of this TSA can be ordered by genTime alone.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce, echoed.
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    /// The TSA's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// ```text
/// Accuracy ::= SEQUENCE {
///     seconds INTEGER OPTIONAL,
///     millis  [0] INTEGER (1..999) OPTIONAL,
///     micros  [1] INTEGER (1..999) OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct Accuracy {
    /// Whole seconds.
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    /// Milliseconds.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

impl Accuracy {
    /// The accuracy for a duration, in seconds and milliseconds (micros are never needed here).
    pub fn from_duration(d: Duration) -> Self {
        let seconds = d.as_secs() as u32;
        let millis = d.subsec_millis() as u16;
        Self { seconds: (seconds > 0).then_some(seconds), millis: (millis > 0).then_some(millis), micros: None }
    }

    /// The accuracy as a duration.
    pub fn to_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.seconds.unwrap_or(0)))
            + Duration::from_millis(u64::from(self.millis.unwrap_or(0)))
            + Duration::from_micros(u64::from(self.micros.unwrap_or(0)))
    }
}

/// RFC 3161's genTime: a GeneralizedTime that, unlike RFC 5280's, may carry fractions of a
/// second (`YYYYMMDDhhmmss[.s...]Z`, no trailing zeros). `der`'s GeneralizedTime refuses
/// fractions, and tokens from other TSAs have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GenTime(pub Duration);

impl GenTime {
    /// `at` truncated to whole milliseconds.
    pub fn from_system_time(at: SystemTime) -> Self {
        let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Self(Duration::from_millis(since.as_millis() as u64))
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        SystemTime::UNIX_EPOCH + self.0
    }

    fn text(self) -> der::Result<String> {
        let whole = DateTime::from_unix_duration(Duration::from_secs(self.0.as_secs()))?;
        let mut text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            whole.year(),
            whole.month(),
            whole.day(),
            whole.hour(),
            whole.minutes(),
            whole.seconds()
        );
        let nanos = self.0.subsec_nanos();
        if nanos > 0 {
            let fraction = format!("{nanos:09}");
            text.push('.');
            text.push_str(fraction.trim_end_matches('0'));
        }
        text.push('Z');
        Ok(text)
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length())?;
        let invalid = || der::Error::from(der::ErrorKind::DateTime);
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let body = text.strip_suffix('Z').ok_or_else(invalid)?;
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if fraction.len() > 9 || fraction.ends_with('0') || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let field = |range: std::ops::Range<usize>| whole[range].parse::<u16>().map_err(|_| invalid());
        let date_time = DateTime::new(
            field(0..4)?,
            field(4..6)? as u8,
            field(6..8)? as u8,
            field(8..10)? as u8,
            field(10..12)? as u8,
            field(12..14)? as u8,
        )?;
        let nanos =
            if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse::<u32>().map_err(|_| invalid())? };
        Ok(Self(date_time.unix_duration() + Duration::from_nanos(u64::from(nanos))))
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.text()?.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.text()?.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn gen_time_round_trips_with_and_without_fractions() {
        for text in ["20261123174739Z", "20261123174739.075389Z", "20261123174739.5Z"] {
            let mut der = vec![0x18, text.len() as u8];
            der.extend_from_slice(text.as_bytes());
            let time = GenTime::from_der(&der).unwrap();
            assert_eq!(time.to_der().unwrap(), der, "{text}");
        }
        let trailing_zero = [&[0x18u8, 18][..], b"20261123174739.50Z"].concat();
        assert!(GenTime::from_der(&trailing_zero).is_err(), "DER forbids trailing zeros");
    }

    #[test]
    fn failure_bits_use_the_shortest_named_bit_encoding() {
        let bits = failure::bit(failure::BAD_DATA_FORMAT);
        assert_eq!(bits.to_der().unwrap(), [0x03, 0x02, 0x02, 0x04]);
        assert_eq!(failure::name(&bits), "badDataFormat");
        assert_eq!(failure::name(&failure::bit(failure::SYSTEM_FAILURE)), "systemFailure");
    }
}
