//! [`Ca`]: the CA as the signing service uses it — its chain, the profile of one-time
//! certificates, and issuance with the CA key in the HSM (DESIGN §3).
//!
//! A one-time certificate is valid from `now - skew` to `now + validity` (60 s and 5 s by
//! default, at most 300 s in all), names the signer in its subject, and carries
//! digitalSignature + nonRepudiation (critical), CA:false, SKI/AKI, AIA caIssuers, the ETSI
//! valassured-ST-certs extension and RFC 9608 noRevAvail — never ocsp-nocheck.

use std::time::{Duration, SystemTime};

use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::name::Name;
use x509_cert::time::{Time, Validity};

use super::issue::{Kind, Profile, issue};
use super::subject::{SubjectTemplate, one_time_subject};
use super::{Result, chain};
use crate::hsm::{KeyPair, KeySession};
use crate::identity::Identity;

/// How one-time and device certificates are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuancePolicy {
    /// How long after issuance a one-time certificate stays valid.
    pub validity: Duration,
    /// How long a device certificate stays valid.
    pub device_validity: Duration,
    /// Where device certificates say the CRL is (`{public_url}/v1/crl`).
    pub crl_url: String,
    /// How far notBefore is set back for relying parties whose clocks run behind.
    pub skew: Duration,
    /// countryName and organizationName of every subject.
    pub template: SubjectTemplate,
    /// The AIA caIssuers URL (`{public_url}/v1/ca`).
    pub ca_issuers_url: String,
    /// The demo profile: every certificate says so in its organizationName
    /// ([`DEMO_ORGANIZATION`]) and carries the demo policy.
    pub demo: bool,
}

/// The organizationName of every certificate the demo profile issues.
pub const DEMO_ORGANIZATION: &str = "esignd DEMO - not a real signature";

/// The CA of the signing service.
#[derive(Clone, Debug)]
pub struct Ca {
    chain: Vec<Certificate>,
    issuer_key_id: Option<Vec<u8>>,
    policy: IssuancePolicy,
}

impl Ca {
    /// A CA issuing under `chain[0]` (the CA certificate stored beside the CA key). Missing
    /// country or organization in the policy are taken from the CA certificate's subject.
    pub fn new(chain: Vec<Certificate>, mut policy: IssuancePolicy) -> Self {
        if policy.demo {
            policy.template.organization = Some(DEMO_ORGANIZATION.to_owned());
        }
        let ca_subject = chain[0].tbs_certificate().subject();
        let from_ca = |oid| attribute_text(ca_subject, oid);
        policy.template.country = policy.template.country.or_else(|| from_ca(const_oid::db::rfc4519::COUNTRY_NAME));
        policy.template.organization =
            policy.template.organization.or_else(|| from_ca(const_oid::db::rfc4519::ORGANIZATION_NAME));
        let issuer_key_id = chain::subject_key_id(&chain[0]);
        Self { chain, issuer_key_id, policy }
    }

    /// The CA chain, CA certificate first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The issuance policy in force.
    pub fn policy(&self) -> &IssuancePolicy {
        &self.policy
    }

    /// Issue a one-time certificate for `subject_key` naming `identity`, valid around `now`,
    /// signed with `ca_key`; verified with the CA's public key before it is returned.
    ///
    /// # Errors
    /// HSM and encoding errors; [`super::Error::SelfCheck`] if the signature does not verify.
    pub fn issue_one_time<S: KeySession>(
        &self,
        session: &S,
        ca_key: &KeyPair<S::Handle>,
        identity: &Identity,
        subject_key: SubjectPublicKeyInfoOwned,
        now: SystemTime,
    ) -> Result<Certificate> {
        let kind = Kind::OneTime { ca_issuers_url: self.policy.ca_issuers_url.clone() };
        self.issue_for(session, ca_key, identity, subject_key, kind, now, self.policy.validity)
    }

    /// Issue a certificate for the key on `identity`'s own device, valid from `now` (less the
    /// clock skew) for the policy's device validity, naming the policy's CRL; signed with
    /// `ca_key` and verified before it is returned.
    ///
    /// # Errors
    /// HSM and encoding errors; [`super::Error::SelfCheck`] if the signature does not verify.
    pub fn issue_device<S: KeySession>(
        &self,
        session: &S,
        ca_key: &KeyPair<S::Handle>,
        identity: &Identity,
        device_key: SubjectPublicKeyInfoOwned,
        now: SystemTime,
    ) -> Result<Certificate> {
        let kind =
            Kind::Device { ca_issuers_url: self.policy.ca_issuers_url.clone(), crl_url: self.policy.crl_url.clone() };
        self.issue_for(session, ca_key, identity, device_key, kind, now, self.policy.device_validity)
    }

    /// A certificate of `kind` naming `identity`, from `now` less the skew to `now + lifetime`.
    #[allow(clippy::too_many_arguments)]
    fn issue_for<S: KeySession>(
        &self,
        session: &S,
        ca_key: &KeyPair<S::Handle>,
        identity: &Identity,
        key: SubjectPublicKeyInfoOwned,
        kind: Kind,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<Certificate> {
        let validity = Validity::new(Time::try_from(now - self.policy.skew)?, Time::try_from(now + lifetime)?);
        let profile = Profile {
            kind,
            subject: one_time_subject(identity, &self.policy.template)?,
            issuer: self.chain[0].tbs_certificate().subject().clone(),
            issuer_key_id: self.issuer_key_id.clone(),
            demo: self.policy.demo,
        };
        issue(session, ca_key, profile, validity, key)
    }

    /// The CA certificate's subject and key identifier (for CRLs).
    pub fn issuer(&self) -> (&x509_cert::name::Name, Option<&[u8]>) {
        (self.chain[0].tbs_certificate().subject(), self.issuer_key_id.as_deref())
    }
}

/// The text of the first attribute `oid` of `name`, if it is a string.
fn attribute_text(name: &Name, oid: const_oid::ObjectIdentifier) -> Option<String> {
    let atv = name.iter().find(|atv| atv.oid == oid)?;
    std::str::from_utf8(atv.value.value()).ok().map(str::to_owned)
}
