//! `[hsm]`: the PKCS#11 module and token, where the PIN comes from, the session pool, the
//! one-time key algorithm and its key pool, and the labels of the persistent keys.

use super::*;

pub(super) fn hsm(raw: RawHsm, base: &Path) -> Result<HsmConfig, ConfigError> {
    let token = match (raw.token_label, raw.token_serial) {
        (_, Some(serial)) if !serial.is_empty() => TokenSelector::Serial(serial),
        (Some(label), _) if label.is_empty() => {
            return Err(ConfigError::Invalid { key: "hsm.token_label", value: label, reason: "must not be empty" });
        }
        (Some(label), _) => TokenSelector::Label(label),
        (None, _) => TokenSelector::Label("esignd".to_owned()),
    };
    let pin = match (raw.pin_file, raw.pin) {
        (Some(_), Some(_)) => return Err(ConfigError::PinTwice),
        (Some(file), None) => Some(PinSource::File(base.join(file))),
        (None, Some(pin)) => Some(PinSource::Environment(pin)),
        (None, None) => None,
    };
    let sessions = range("hsm.sessions", raw.sessions.unwrap_or(4), 1..=MAX_SESSIONS, "must be between 1 and 256")?;
    let ephemeral_text = raw.ephemeral_key.unwrap_or_else(|| "p256".to_owned());
    let ephemeral_key: KeyAlgorithm = ephemeral_text.parse().map_err(|_| ConfigError::Invalid {
        key: "hsm.ephemeral_key",
        value: ephemeral_text.clone(),
        reason: "use one of p256, p384, rsa3072, rsa2048",
    })?;
    let call_timeout_ms = range(
        "hsm.call_timeout_ms",
        raw.call_timeout_ms.unwrap_or(5_000),
        100..=600_000,
        "must be between 100 and 600000 milliseconds",
    )?;
    let keys = KeyLabels {
        ca: label(raw.keys.ca, "esignd-ca", "hsm.keys.ca")?,
        tsa: label(raw.keys.tsa, "esignd-tsa", "hsm.keys.tsa")?,
        service: label(raw.keys.service, "esignd-service", "hsm.keys.service")?,
        audit: label(raw.keys.audit, "esignd-audit", "hsm.keys.audit")?,
        audit_subject: label(raw.keys.audit_subject, "esignd-audit-subject", "hsm.keys.audit_subject")?,
    };
    let all = [&keys.ca, &keys.tsa, &keys.service, &keys.audit, &keys.audit_subject];
    if all.iter().enumerate().any(|(i, a)| all[i + 1..].contains(a)) {
        return Err(ConfigError::Invalid {
            key: "hsm.keys",
            value: format!("{keys:?}"),
            reason: "the CA, TSA, service, audit and audit_subject keys need five different labels",
        });
    }
    let share = range(
        "hsm.public_share_percent",
        raw.public_share_percent.unwrap_or(25),
        1..=100,
        "1 to 100 (percent of hsm.sessions the built-in TSA and probes may hold)",
    )?;
    Ok(HsmConfig {
        module: base.join(raw.module.unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE))),
        token,
        pin,
        sessions: sessions as usize,
        public_sessions: ((sessions * share / 100) as usize).max(1),
        ephemeral_key,
        call_timeout: Duration::from_millis(call_timeout_ms),
        keys,
        key_pool: key_pool(raw.key_pool)?,
    })
}

/// `[hsm.key_pool]`.
fn key_pool(raw: RawKeyPool) -> Result<KeyPoolConfig, ConfigError> {
    let size = range("hsm.key_pool.size", raw.size.unwrap_or(0), 0..=10_000, "0 (no pool) to 10000 keys")?;
    let refill_threads = range(
        "hsm.key_pool.refill_threads",
        raw.refill_threads.unwrap_or(1),
        1..=16,
        "1 to 16 threads, each with its own HSM session",
    )?;
    let when_empty = match raw.when_empty.as_deref().unwrap_or("generate") {
        "generate" => WhenEmpty::Generate,
        "busy" => WhenEmpty::Busy,
        other => {
            return Err(ConfigError::Invalid {
                key: "hsm.key_pool.when_empty",
                value: other.to_owned(),
                reason: "generate (make the key in line) or busy (answer 503)",
            });
        }
    };
    Ok(KeyPoolConfig { size: size as usize, refill_threads: refill_threads as usize, when_empty })
}

pub(super) fn label(value: Option<String>, default: &str, key: &'static str) -> Result<String, ConfigError> {
    match value {
        None => Ok(default.to_owned()),
        Some(v) if v.is_empty() || v.len() > 64 => {
            Err(ConfigError::Invalid { key, value: v, reason: "a key label has 1 to 64 characters" })
        }
        Some(v) => Ok(v),
    }
}
