//! `esign`, the integrator's client: what an eService needs around esignd's API — prepare a
//! PDF and the digest to sign, embed the signature esignd returns ([`pdf`]).
//!
//! It lives in this package (not a workspace member) while its API settles: it shares the
//! `der`/`cms` stack, the outbound HTTP client and the test harness with the daemon, and one
//! lock file; splitting it out later is a move, not a rewrite.

pub mod cli;
pub mod pdf;
