//! The audit trail (issue 12, being built): security-relevant facts as a hash chain of records
//! that any auditor can check without esignd ([`chain`]). The store appends them in the
//! transaction of the change they record (`store::audit`; `session.created` so far), and
//! `esignctl audit verify` walks them. Checkpoints signed in the HSM, the other events and
//! `GET /v1/audit/log` come next.

pub mod chain;
