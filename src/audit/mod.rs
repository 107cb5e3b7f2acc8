//! The audit trail (`docs/audit.md`): security-relevant facts as a hash chain of records that
//! any auditor can check without esignd ([`chain`]), each appended by the store in the
//! transaction of the change it records ([`event`]), with checkpoints of the head signed by the
//! audit key in the HSM and time-stamped ([`checkpoint`]); [`trail`] checks all of it.

pub mod chain;
pub mod checkpoint;
pub mod event;
pub mod trail;

pub use event::AuditEvent;
