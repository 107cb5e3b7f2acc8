//! The one place certificates are built and signed: a [`Profile`] says what goes in, the CA key
//! signs through the HSM adapter, and the result is verified before it leaves.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::time::{Time, Validity};

use super::extensions;
use super::{Error, Result, random_serial};
use crate::hsm::signer::{HsmSignature, HsmSigner};
use crate::hsm::{KeyPair, KeySession};
use crate::pki::verify::verify_certificate;

/// How far notBefore is set back, so a verifier whose clock is slightly behind still accepts a
/// certificate made a moment ago.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What kind of certificate is being made; decides the extensions.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Self-signed root: CA, may issue end-entity certificates only (pathLen 0).
    Root,
    /// The built-in TSA: end entity, EKU timeStamping only; where its status is published (the
    /// CA's CRL), so that validators can check it once its signatures are old.
    Tsa {
        /// The CA's CRL (`{public_url}/v1/crl`), when known.
        crl_url: Option<String>,
    },
    /// A one-time signing certificate (DESIGN §3): non-repudiation, short-term, no revocation.
    OneTime {
        /// Where relying parties fetch the CA certificate (AIA caIssuers).
        ca_issuers_url: String,
    },
    /// A certificate for the key on a user's own device (DESIGN §7): non-repudiation,
    /// long-term, revocable (CRL distribution point).
    Device {
        /// Where relying parties fetch the CA certificate (AIA caIssuers).
        ca_issuers_url: String,
        /// Where the CRL is published.
        crl_url: String,
    },
}

/// A certificate profile for `x509-cert`'s builder.
pub(crate) struct Profile {
    pub kind: Kind,
    pub subject: Name,
    pub issuer: Name,
    /// The issuer certificate's subjectKeyIdentifier, when it has one (an imported CA may use
    /// another key-identifier method than ours; AKI must match the issuer's SKI).
    pub issuer_key_id: Option<Vec<u8>>,
    /// Made for a demonstration: the certificate carries the demo policy
    /// ([`extensions::ID_ESIGND_DEMO_POLICY`]).
    pub demo: bool,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        use x509_cert::ext::pkix::KeyUsages::{CRLSign, DigitalSignature, KeyCertSign, NonRepudiation};
        let ski = extensions::subject_key_identifier(&extensions::key_identifier(spk))?;
        let aki = || {
            let id = self.issuer_key_id.clone().unwrap_or_else(|| extensions::key_identifier(issuer_spk));
            extensions::authority_key_identifier(&id)
        };
        let mut made = match &self.kind {
            Kind::Root => {
                vec![extensions::basic_constraints(true, Some(0))?, extensions::key_usage(KeyCertSign | CRLSign)?, ski]
            }
            Kind::Tsa { crl_url } => {
                let mut tsa = vec![
                    extensions::basic_constraints(false, None)?,
                    extensions::key_usage(DigitalSignature | NonRepudiation)?,
                    extensions::time_stamping_only()?,
                    ski,
                    aki()?,
                ];
                if let Some(url) = crl_url {
                    tsa.push(extensions::crl_distribution_point(url)?);
                }
                tsa
            }
            Kind::OneTime { ca_issuers_url } => vec![
                extensions::basic_constraints(false, None)?,
                extensions::key_usage(DigitalSignature | NonRepudiation)?,
                ski,
                aki()?,
                extensions::ca_issuers(ca_issuers_url)?,
                extensions::null_extension(extensions::ID_ETSI_EXT_VALASSURED_ST_CERTS)?,
                extensions::null_extension(extensions::ID_CE_NO_REV_AVAIL)?,
            ],
            Kind::Device { ca_issuers_url, crl_url } => vec![
                extensions::basic_constraints(false, None)?,
                extensions::key_usage(DigitalSignature | NonRepudiation)?,
                ski,
                aki()?,
                extensions::ca_issuers(ca_issuers_url)?,
                extensions::crl_distribution_point(crl_url)?,
            ],
        };
        if self.demo {
            made.push(extensions::certificate_policy(extensions::ID_ESIGND_DEMO_POLICY)?);
        }
        Ok(made)
    }
}

/// Parse an RFC 4514 subject; it must have a common name.
///
/// # Errors
/// [`Error::Subject`].
pub fn parse_subject(subject: &str) -> Result<Name> {
    let name = Name::from_str(subject).map_err(|_| Error::Subject {
        subject: subject.to_owned(),
        reason: "it is not an RFC 4514 distinguished name",
    })?;
    let has_cn = name.iter().any(|atv| atv.oid == const_oid::db::rfc4519::COMMON_NAME);
    if !has_cn {
        return Err(Error::Subject { subject: subject.to_owned(), reason: "it has no CN" });
    }
    Ok(name)
}

/// A validity of `days` days starting [`CLOCK_SKEW`] ago.
///
/// # Errors
/// [`Error::Days`] outside 1..=36500.
pub fn validity_days(days: u32) -> Result<Validity> {
    if !(1..=36_500).contains(&days) {
        return Err(Error::Days { days });
    }
    let now = SystemTime::now();
    let not_before = Time::try_from(now - CLOCK_SKEW)?;
    let not_after = Time::try_from(now + Duration::from_secs(u64::from(days) * 86_400))?;
    Ok(Validity::new(not_before, not_after))
}

/// Build and sign a certificate for `subject_key` with `issuer_key` (pass the same key for a
/// self-signed certificate), then verify it with the issuer's public key.
///
/// # Errors
/// Builder, HSM and encoding errors; [`Error::SelfCheck`] when the result does not verify.
pub(crate) fn issue<S: KeySession>(
    session: &S,
    issuer_key: &KeyPair<S::Handle>,
    profile: Profile,
    validity: Validity,
    subject_key: SubjectPublicKeyInfoOwned,
) -> Result<Certificate> {
    let signer = HsmSigner::with_default_scheme(session, issuer_key);
    let builder = CertificateBuilder::new(profile, random_serial(), validity, subject_key)?;
    let certificate = builder.build::<_, HsmSignature>(&signer)?;
    verify_certificate(&certificate, issuer_key.public_key()).map_err(Error::SelfCheck)?;
    Ok(certificate)
}
