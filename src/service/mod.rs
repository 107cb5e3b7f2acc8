//! The service: everything esignd does for its callers, behind one door for HTTP.
//!
//! [`engine`] runs the signing transactions over the key store, the CA, CMS assembly and the
//! TSA; [`sessions`] are the browser flow and what eServices ask of it; [`devices`] is the
//! model in which users sign with their own devices; [`payment`] checks GovStack payment tokens.

pub mod devices;
pub mod engine;
pub mod payment;
pub mod sessions;
