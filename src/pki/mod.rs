//! Software public-key work on certificates: verifying signatures, checking that a certificate
//! is fit for its purpose and matches its key, and reading/writing PEM chains.
//!
//! Private keys never appear here; everything that signs goes through [`crate::hsm`].

pub mod checks;
pub mod path;
pub mod pem;
pub mod verify;
