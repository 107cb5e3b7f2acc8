//! The whole trail's check (`esignctl audit verify`): the chain from its first stored record,
//! every checkpoint's signature and time-stamp, every checkpoint against the record it covers,
//! every `audit.checkpoint` record against a stored checkpoint, and optionally a checkpoint the
//! auditor kept from earlier (which shows records cut off the end, invisible otherwise).
//! The first problem found is named; nothing is repaired.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use const_oid::db::rfc5912;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::chain::{self, Broken, GENESIS, Record};
use super::checkpoint::{CHECKPOINT_EVENT, Checkpoint};
use crate::hsm::{HashAlgorithm, SignatureScheme};

/// What checkpoints are checked with.
#[derive(Clone, Debug)]
pub struct TrustedKeys {
    /// The audit key's public key.
    pub audit_key: SubjectPublicKeyInfoOwned,
    /// Trust anchors for the checkpoints' time-stamps (the CA above the TSA, or the TSA).
    pub tsa_anchors: Vec<Certificate>,
}

/// What is wrong with the trail, at the first place it shows.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// The chain itself is broken.
    #[error(transparent)]
    Chain(#[from] Broken),
    /// The oldest records are gone and no checkpoint vouches for the cut.
    #[error(
        "records before {first} are missing and no checkpoint covers record {before} with the hash record {first} names: records were deleted"
    )]
    UnvouchedCut {
        /// The first stored record.
        first: u64,
        /// The record a checkpoint should cover.
        before: u64,
    },
    /// A checkpoint's signature or time-stamp does not verify.
    #[error("checkpoint of record {seq} does not verify: {reason}")]
    BadProof {
        /// The record it covers.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// A checkpoint names a head the chain does not have.
    #[error(
        "checkpoint of record {seq} names head {head}, but record {seq} has hash {found}: the records were changed after it was signed"
    )]
    HeadMismatch {
        /// The record it covers.
        seq: u64,
        /// The head it signed.
        head: String,
        /// The record's hash now.
        found: String,
    },
    /// A checkpoint covers a record the store no longer has at its end.
    #[error("a signed checkpoint covers record {seq}, but the store ends at record {last}: records {} to {seq} were cut off", last + 1)]
    CutOff {
        /// The record the checkpoint covers.
        seq: u64,
        /// The last stored record.
        last: u64,
    },
    /// The chain notes a checkpoint the store no longer has.
    #[error("record {noted_at} notes a checkpoint of record {covers} that is missing from the store: it was deleted")]
    CheckpointDropped {
        /// The `audit.checkpoint` record.
        noted_at: u64,
        /// The record the checkpoint covered.
        covers: u64,
    },
}

/// What a verified trail comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailSummary {
    /// Records checked.
    pub records: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The head hash.
    pub head: String,
}

/// Check `checkpoint`'s signature and time-stamp.
///
/// # Errors
/// [`TrailError::BadProof`].
pub fn verify_proofs(checkpoint: &Checkpoint, keys: &TrustedKeys) -> Result<(), TrailError> {
    let bad = |reason: String| TrailError::BadProof { seq: checkpoint.seq, reason };
    let message = checkpoint.message();
    let signature = STANDARD.decode(&checkpoint.signature).map_err(|e| bad(format!("signature is not base64: {e}")))?;
    let scheme = if keys.audit_key.algorithm.oid == rfc5912::RSA_ENCRYPTION {
        SignatureScheme::RsaPkcs1v15(HashAlgorithm::Sha256)
    } else {
        SignatureScheme::Ecdsa(HashAlgorithm::Sha256)
    };
    crate::pki::verify::verify_digest(&keys.audit_key, scheme, &HashAlgorithm::Sha256.digest(&message), &signature)
        .map_err(|e| bad(format!("the audit key's signature: {e}")))?;
    let token =
        STANDARD.decode(&checkpoint.timestamp_token).map_err(|e| bad(format!("time-stamp is not base64: {e}")))?;
    let imprint = crate::tsa::builtin::sha256_imprint(&message).map_err(|e| bad(e.to_string()))?;
    crate::tsa::verify::verify_token(&token, &imprint, None, &keys.tsa_anchors)
        .map_err(|e| bad(format!("the time-stamp: {e}")))?;
    Ok(())
}

/// Check the trail: `records` in stored order, every stored `checkpoints`, and `against`, a
/// checkpoint the auditor kept; each checkpoint's signature and time-stamp with `keys`.
///
/// # Errors
/// The first [`TrailError`].
pub fn verify_trail(
    records: &[Record],
    checkpoints: &[Checkpoint],
    keys: &TrustedKeys,
    against: Option<&Checkpoint>,
) -> Result<TrailSummary, TrailError> {
    verify_trail_with(records, checkpoints, against, |checkpoint| verify_proofs(checkpoint, keys))
}

/// As [`verify_trail`], with the checkpoints' proofs checked by `proven`.
///
/// # Errors
/// The first [`TrailError`].
pub fn verify_trail_with(
    records: &[Record],
    checkpoints: &[Checkpoint],
    against: Option<&Checkpoint>,
    proven: impl Fn(&Checkpoint) -> Result<(), TrailError>,
) -> Result<TrailSummary, TrailError> {
    for checkpoint in checkpoints.iter().chain(against) {
        proven(checkpoint)?;
    }
    let start = match records.first() {
        Some(first) if first.seq > 1 => {
            let before = first.seq - 1;
            checkpoints
                .iter()
                .find(|c| c.seq == before && c.head == first.prev)
                .ok_or(TrailError::UnvouchedCut { first: first.seq, before })?;
            Some(Record {
                seq: before,
                time: String::new(),
                kind: String::new(),
                fields: serde_json::Map::new(),
                prev: String::new(),
                hash: first.prev.clone(),
            })
        }
        _ => None,
    };
    let verified = chain::verify(start.as_ref(), records)?;
    let first = records.first().map_or(1, |r| r.seq);
    let last = records.last().map_or(0, |r| r.seq);
    for checkpoint in checkpoints.iter().chain(against) {
        if checkpoint.seq + 1 < first {
            continue; // pruned: its proofs were checked above
        }
        if checkpoint.seq == first - 1 {
            continue; // the cut's checkpoint: matched above
        }
        if checkpoint.seq > last {
            return Err(TrailError::CutOff { seq: checkpoint.seq, last });
        }
        let record = &records[(checkpoint.seq - first) as usize];
        if record.hash != checkpoint.head {
            return Err(TrailError::HeadMismatch {
                seq: checkpoint.seq,
                head: checkpoint.head.clone(),
                found: record.hash.clone(),
            });
        }
    }
    for record in records.iter().filter(|r| r.kind == CHECKPOINT_EVENT) {
        let covers = record.fields.get("covers").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let signature = record.fields.get("signatureSha256").and_then(serde_json::Value::as_str).unwrap_or("");
        if !checkpoints.iter().any(|c| c.seq == covers && c.signature_sha256() == signature) {
            return Err(TrailError::CheckpointDropped { noted_at: record.seq, covers });
        }
    }
    let head = if records.is_empty() && start.is_none() { GENESIS.to_owned() } else { verified.head };
    Ok(TrailSummary { records: verified.records, checkpoints: checkpoints.len() as u64, head })
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::audit::chain::next;

    /// A chain of `n` records with a checkpoint (and its note) after every `every` records.
    fn trail(n: u64, every: u64) -> (Vec<Record>, Vec<Checkpoint>) {
        let (mut records, mut checkpoints): (Vec<Record>, Vec<Checkpoint>) = (Vec::new(), Vec::new());
        let time = "2026-12-01T18:00:00Z".to_owned();
        while (records.len() as u64) < n {
            records.push(next(records.last(), time.clone(), "session.created", Map::new()).unwrap());
            let head = records.last().unwrap().clone();
            if head.seq % every == 0 {
                let checkpoint = Checkpoint {
                    seq: head.seq,
                    head: head.hash.clone(),
                    time: time.clone(),
                    signature: "c2lnbmF0dXJl".into(),
                    timestamp_token: String::new(),
                };
                let note = serde_json::json!({ "covers": head.seq, "head": head.hash, "signatureSha256": checkpoint.signature_sha256() });
                records.push(
                    next(Some(&head), time.clone(), CHECKPOINT_EVENT, note.as_object().unwrap().clone()).unwrap(),
                );
                checkpoints.push(checkpoint);
            }
        }
        (records, checkpoints)
    }

    fn proven(_: &Checkpoint) -> Result<(), TrailError> {
        Ok(())
    }

    #[test]
    fn a_trail_pruned_up_to_a_checkpoint_verifies_from_the_cut_and_any_other_cut_is_named() {
        let (records, checkpoints) = trail(12, 4);
        let whole = verify_trail_with(&records, &checkpoints, None, proven).unwrap();
        assert_eq!((whole.records, whole.checkpoints), (records.len() as u64, 3));

        // Pruned up to the first checkpoint (record 4): the rest verifies from it.
        let pruned: Vec<Record> = records.iter().filter(|r| r.seq > 4).cloned().collect();
        let summary = verify_trail_with(&pruned, &checkpoints, None, proven).unwrap();
        assert_eq!((summary.records, summary.head), (pruned.len() as u64, whole.head.clone()));

        // Cut where no checkpoint vouches: named.
        let cut: Vec<Record> = records.iter().filter(|r| r.seq > 3).cloned().collect();
        assert!(matches!(
            verify_trail_with(&cut, &checkpoints, None, proven),
            Err(TrailError::UnvouchedCut { first: 4, before: 3 })
        ));

        // A checkpoint whose head the chain does not have: named.
        let mut wrong = checkpoints.clone();
        wrong[1].head = "ab".repeat(32);
        assert!(matches!(verify_trail_with(&records, &wrong, None, proven), Err(TrailError::HeadMismatch { .. })));

        // A failing proof stops everything.
        let refused = |_: &Checkpoint| Err(TrailError::BadProof { seq: 4, reason: "no".into() });
        assert!(matches!(
            verify_trail_with(&records, &checkpoints, None, refused),
            Err(TrailError::BadProof { seq: 4, .. })
        ));
    }
}
