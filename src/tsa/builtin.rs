//! esignd's own TSA: TSTInfo with the configured policy, a random 128-bit serial, genTime to the
//! millisecond with its declared accuracy, and the request's nonce; signed by the TSA key in the
//! HSM with signed attributes content-type, message-digest and signing-certificate-v2 (RFC 5816).
//!
//! A request is read before any HSM work ([`BuiltinTsa::read_query`]): whatever is wrong with it
//! becomes a TimeStampResp with status rejection and the matching failure bit (RFC 3161
//! §2.4.2), which carries no token and so costs no signature. Only a [`Query`] that passed every
//! check reaches the HSM, and [`BuiltinTsa::answer`] never fails: a token the HSM could not sign
//! is a rejection with systemFailure.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use const_oid::db::rfc3161;
use der::asn1::{OctetString, Uint};
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::Error;
use super::asn1::{
    Accuracy, GenTime, MessageImprint, PkiStatusInfo, TimeStampReq, TimeStampResp, TstInfo, failure, status,
};
use crate::cms::assemble::{SignedMessage, Signer, to_be_signed};
use crate::cms::attributes;
use crate::hsm::signer::HsmSigner;
use crate::hsm::{HashAlgorithm, KeyPair, KeySession};
use signature::Signer as _;

/// A TimeStampReq this TSA accepts: what its token will say. Only [`BuiltinTsa::read_query`]
/// makes one, so a query that reaches the HSM has passed every check.
#[derive(Clone, Debug)]
pub struct Query {
    imprint: MessageImprint,
    nonce: Option<Uint>,
    include_certificate: bool,
}

/// The built-in TSA.
#[derive(Clone, Debug)]
pub struct BuiltinTsa {
    certificate: Certificate,
    /// Its signing-certificate-v2 attribute, the same in every token: made once rather than
    /// encoding and hashing the certificate per stamp.
    signing_certificate: x509_cert::attr::Attribute,
    policy: ObjectIdentifier,
    accuracy: Duration,
}

impl BuiltinTsa {
    /// A TSA signing as `certificate` (the TSA key's certificate) under `policy`, declaring
    /// `accuracy` (at most one second).
    ///
    /// # Errors
    /// A certificate that does not encode.
    pub fn new(certificate: Certificate, policy: ObjectIdentifier, accuracy: Duration) -> Result<Self, Error> {
        let signing_certificate = attributes::signing_certificate_v2(&certificate)?;
        Ok(Self { certificate, signing_certificate, policy, accuracy })
    }

    /// The TSA certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// A TimeStampToken (DER ContentInfo) for `imprint` at `now`.
    ///
    /// # Errors
    /// HSM and encoding errors.
    pub fn stamp<S: KeySession>(
        &self,
        session: &S,
        key: &KeyPair<S::Handle>,
        imprint: MessageImprint,
        nonce: Option<Uint>,
        include_certificate: bool,
        now: SystemTime,
    ) -> Result<Vec<u8>, Error> {
        Ok(self.stamp_built(session, key, imprint, nonce, include_certificate, now)?.0)
    }

    /// [`BuiltinTsa::stamp`], also returning the TSTInfo the token encapsulates, as built: a
    /// caller that checks it need not decode the token it was just given.
    ///
    /// # Errors
    /// HSM and encoding errors.
    pub fn stamp_built<S: KeySession>(
        &self,
        session: &S,
        key: &KeyPair<S::Handle>,
        imprint: MessageImprint,
        nonce: Option<Uint>,
        include_certificate: bool,
        now: SystemTime,
    ) -> Result<(Vec<u8>, TstInfo), Error> {
        let tst_info = TstInfo {
            version: 1,
            policy: self.policy,
            message_imprint: imprint,
            serial_number: Uint::new(crate::ca::random_serial().as_bytes())?,
            gen_time: GenTime::from_system_time(now),
            accuracy: Some(Accuracy::from_duration(self.accuracy)),
            ordering: false,
            nonce,
            tsa: None,
            extensions: None,
        };
        let content = tst_info.to_der()?;
        let signer = HsmSigner::with_default_scheme(session, key);
        let hash = signer.scheme().hash();
        let signed_attributes = attributes::set([
            attributes::content_type(rfc3161::ID_CT_TST_INFO)?,
            attributes::message_digest(&hash.digest(&content))?,
            self.signing_certificate.clone(),
        ])?;
        let signature = signer
            .try_sign(&to_be_signed(&signed_attributes)?)
            .map_err(|e| Error::Hsm(crate::hsm::Error::Malformed { what: "TSA signature", detail: e.to_string() }))?;
        let certificates: Vec<&Certificate> = if include_certificate { vec![&self.certificate] } else { vec![] };
        let message = SignedMessage::new(
            rfc3161::ID_CT_TST_INFO,
            Some(&content),
            Signer {
                certificate: &self.certificate,
                hash,
                signed_attributes,
                signature_algorithm: signer.scheme().algorithm_identifier()?,
                signature: signature.0,
            },
            &certificates,
        )?;
        Ok((message.to_der()?, tst_info))
    }

    /// Read a DER TimeStampReq: the query to stamp, or the DER TimeStampResp refusing it. No
    /// HSM work: call this before taking a session.
    ///
    /// # Errors
    /// The refusal, ready to send: status rejection with the failure bit that says why.
    pub fn read_query(&self, request: &[u8]) -> Result<Query, Vec<u8>> {
        match self.check_request(request) {
            Ok(req) => Ok(Query { imprint: req.message_imprint, nonce: req.nonce, include_certificate: req.cert_req }),
            Err((bit, text)) => Err(encode(rejection(bit, text))),
        }
    }

    /// Stamp `query` at `now` and answer with a DER TimeStampResp: granted with the token, or
    /// rejection with systemFailure when the HSM could not sign.
    pub fn answer<S: KeySession>(
        &self,
        session: &S,
        key: &KeyPair<S::Handle>,
        query: Query,
        now: SystemTime,
    ) -> Vec<u8> {
        let Query { imprint, nonce, include_certificate } = query;
        let response = match self.stamp(session, key, imprint, nonce, include_certificate, now) {
            Ok(token) => match der::Any::from_der(&token) {
                Ok(token) => TimeStampResp {
                    status: PkiStatusInfo { status: status::GRANTED, status_string: None, fail_info: None },
                    time_stamp_token: Some(token),
                },
                Err(_) => rejection(failure::SYSTEM_FAILURE, "the token could not be encoded"),
            },
            Err(e) => {
                tracing::error!(error = %e, "the built-in TSA could not sign");
                rejection(failure::SYSTEM_FAILURE, "the TSA could not sign; try again later")
            }
        };
        encode(response)
    }

    fn check_request(&self, request: &[u8]) -> Result<TimeStampReq, (usize, &'static str)> {
        let req = TimeStampReq::from_der(request).map_err(|_| (failure::BAD_DATA_FORMAT, "not a DER TimeStampReq"))?;
        if req.version != 1 {
            return Err((failure::BAD_REQUEST, "only version 1 requests are supported"));
        }
        let hash = HashAlgorithm::from_oid(req.message_imprint.hash_algorithm.oid)
            .ok_or((failure::BAD_ALG, "the imprint must be SHA-256, SHA-384 or SHA-512"))?;
        if req.message_imprint.hashed_message.as_bytes().len() != hash.output_len() {
            return Err((failure::BAD_DATA_FORMAT, "the imprint's length does not match its hash algorithm"));
        }
        if req.req_policy.is_some_and(|p| p != self.policy) {
            return Err((failure::UNACCEPTED_POLICY, "this TSA issues tokens under one policy only"));
        }
        if req.extensions.is_some() {
            return Err((failure::UNACCEPTED_EXTENSION, "this TSA supports no request extensions"));
        }
        Ok(req)
    }
}

fn encode(response: TimeStampResp) -> Vec<u8> {
    response.to_der().expect("a TimeStampResp of known-good parts encodes")
}

fn rejection(bit: usize, text: &str) -> TimeStampResp {
    TimeStampResp {
        status: PkiStatusInfo {
            status: status::REJECTION,
            status_string: Some(vec![text.to_owned()]),
            fail_info: Some(failure::bit(bit)),
        },
        time_stamp_token: None,
    }
}

/// The imprint of `data` with SHA-256 (what esignd's client and service send).
///
/// # Errors
/// Encoding errors only.
pub fn sha256_imprint(data: &[u8]) -> Result<MessageImprint, Error> {
    Ok(MessageImprint {
        hash_algorithm: HashAlgorithm::Sha256.algorithm_identifier(),
        hashed_message: OctetString::new(HashAlgorithm::Sha256.digest(data))?,
    })
}
