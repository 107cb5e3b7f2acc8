//! A device certificate's life (GovStack `PATCH /v1/cert/{certificateId}`): ACTIVE, SUSPENDED,
//! REVOKED — and EXPIRED, which is not stored but read off notAfter
//! ([`crate::vocabulary::CertificateStatus`]). The allowed transitions are exactly the spec's:
//! ACTIVE→SUSPENDED, ACTIVE→REVOKED, SUSPENDED→ACTIVE, SUSPENDED→REVOKED. Revocation is final;
//! nothing leaves EXPIRED.

use std::str::FromStr;

use crate::vocabulary::CertificateState as State;

/// What the owner asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Back to ACTIVE.
    Activate,
    /// To SUSPENDED.
    Suspend,
    /// To REVOKED.
    Revoke,
}

impl Action {
    /// The spec's spelling (`ACTIVATE`, `SUSPEND`, `REVOKE`), as a device proof's `action`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Activate => "ACTIVATE",
            Self::Suspend => "SUSPEND",
            Self::Revoke => "REVOKE",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    /// The spec's `ACTIVATE|SUSPEND|REVOKE`; its example's past-tense spelling is accepted too.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ACTIVATE" | "ACTIVATED" => Ok(Self::Activate),
            "SUSPEND" | "SUSPENDED" => Ok(Self::Suspend),
            "REVOKE" | "REVOKED" => Ok(Self::Revoke),
            other => Err(format!("status.code {other:?} is not one of ACTIVATE, SUSPEND, REVOKE")),
        }
    }
}

/// Why a transition is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    /// Not one of the spec's transitions.
    #[error(
        "a {from} certificate cannot be {to}; allowed: ACTIVE→SUSPENDED, ACTIVE→REVOKED, SUSPENDED→ACTIVE, SUSPENDED→REVOKED"
    )]
    NotAllowed {
        /// The current state.
        from: &'static str,
        /// What was asked, as a past participle.
        to: &'static str,
    },
    /// The certificate has expired.
    #[error("the certificate has expired; enrol the device again")]
    Expired,
}

/// The state `action` leads to from `from`, if the spec allows it.
///
/// # Errors
/// [`TransitionError`].
pub fn transition(from: State, expired: bool, action: Action) -> Result<State, TransitionError> {
    if expired {
        return Err(TransitionError::Expired);
    }
    let to = match action {
        Action::Activate => State::Active,
        Action::Suspend => State::Suspended,
        Action::Revoke => State::Revoked,
    };
    match (from, to) {
        (State::Active, State::Suspended | State::Revoked) | (State::Suspended, State::Active | State::Revoked) => {
            Ok(to)
        }
        _ => Err(TransitionError::NotAllowed {
            from: from.as_str(),
            to: match action {
                Action::Activate => "activated",
                Action::Suspend => "suspended",
                Action::Revoke => "revoked",
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_specs_transitions() {
        use Action::*;
        use State::*;
        let allowed = [
            (Active, Suspend, Suspended),
            (Active, Revoke, Revoked),
            (Suspended, Activate, Active),
            (Suspended, Revoke, Revoked),
        ];
        for from in [Active, Suspended, Revoked] {
            for action in [Activate, Suspend, Revoke] {
                let expected = allowed.iter().find(|(f, a, _)| *f == from && *a == action).map(|(_, _, to)| *to);
                assert_eq!(transition(from, false, action).ok(), expected, "{from} + {action:?}");
                assert_eq!(transition(from, true, action), Err(TransitionError::Expired));
            }
        }
    }
}
