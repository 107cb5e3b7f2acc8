//! The audit trail (issue 12, being built): security-relevant facts as a hash chain of records
//! that any auditor can check without esignd ([`chain`]). Wiring the records into the store's
//! transactions, checkpoints signed in the HSM, `GET /v1/audit/log` and `esignctl audit` come
//! next; this module is the format and its verification.

pub mod chain;
