//! Checkpoints (`docs/audit.md`): the chain's head at record `seq`, signed by the audit key in
//! the HSM and time-stamped by the TSA in use. The signed bytes are the checkpoint's
//! [`Checkpoint::message`], canonical JSON like the records', so an auditor checks one with
//! `openssl dgst -sha256 -verify audit.pem -signature sig.der message.json` and
//! `openssl ts -verify -data message.json -in token.tsr`. Each checkpoint is also recorded in
//! the chain itself (`audit.checkpoint`, naming the record it covers and its signature's
//! SHA-256), so a checkpoint deleted from the store is missed.

use serde::{Deserialize, Serialize};

use crate::hsm::HashAlgorithm;

/// The record type that notes a checkpoint in the chain.
pub const CHECKPOINT_EVENT: &str = "audit.checkpoint";

/// A signed, time-stamped head of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last record it covers.
    pub seq: u64,
    /// That record's hash.
    pub head: String,
    /// When it was made, RFC 3339 UTC.
    pub time: String,
    /// The audit key's signature over [`Checkpoint::message`], base64 DER.
    pub signature: String,
    /// An RFC 3161 TimeStampToken over the message, base64 DER.
    #[serde(rename = "timestampToken")]
    pub timestamp_token: String,
}

impl Checkpoint {
    /// The bytes signed and time-stamped: `{"head":…,"seq":…,"time":…}` (RFC 8785).
    pub fn message_of(seq: u64, head: &str, time: &str) -> Vec<u8> {
        let message = serde_json::json!({ "head": head, "seq": seq, "time": time });
        serde_json::to_vec(&message).expect("JSON values serialise")
    }

    /// This checkpoint's signed bytes.
    pub fn message(&self) -> Vec<u8> {
        Self::message_of(self.seq, &self.head, &self.time)
    }

    /// SHA-256 of the signature (DER), hex: what the chain's `audit.checkpoint` record names.
    pub fn signature_sha256(&self) -> String {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD.decode(&self.signature).unwrap_or_default();
        hex::encode(HashAlgorithm::Sha256.digest(&der))
    }
}
