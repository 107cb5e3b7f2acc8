//! `[ca]` and `[tsa]`: validity of what the CA issues, the CRL, the signers' subject, and where
//! time-stamps come from (the built-in TSA's policy and accuracy, or external TSAs and their
//! trust anchors).

use super::*;

/// The built-in TSA's policy when none is configured: the unregistered placeholder OpenSSL's
/// TSA examples use. Fine for development; the daemon warns at start-up while it is in use, and
/// production deployments set the policy OID their TSA operates under.
pub const DEFAULT_TSA_POLICY: &str = "1.2.3.4.1";

pub(super) fn ca(raw: RawCa) -> Result<CaConfig, ConfigError> {
    let validity = raw.one_time_validity_secs.unwrap_or(60);
    let skew = raw.clock_skew_secs.unwrap_or(5);
    if !(1..=300).contains(&validity) {
        return Err(ConfigError::Invalid {
            key: "ca.one_time_validity_secs",
            value: validity.to_string(),
            reason: "a one-time certificate lives 1 to 300 seconds",
        });
    }
    if skew > 60 || validity + skew > 300 {
        return Err(ConfigError::Invalid {
            key: "ca.clock_skew_secs",
            value: skew.to_string(),
            reason: "at most 60, and validity plus skew at most 300 seconds",
        });
    }
    let device_days = raw.device_validity_days.unwrap_or(365);
    if !(1..=3650).contains(&device_days) {
        return Err(ConfigError::Invalid {
            key: "ca.device_validity_days",
            value: device_days.to_string(),
            reason: "a device certificate lives 1 to 3650 days",
        });
    }
    let crl_hours = raw.crl_validity_hours.unwrap_or(24);
    if !(1..=24 * 31).contains(&crl_hours) {
        return Err(ConfigError::Invalid {
            key: "ca.crl_validity_hours",
            value: crl_hours.to_string(),
            reason: "a CRL is valid 1 to 744 hours",
        });
    }
    if let Some(country) = &raw.country
        && !is_country_code(country)
    {
        return Err(ConfigError::Invalid {
            key: "ca.country",
            value: country.clone(),
            reason: "two capital letters (ISO 3166), e.g. EE",
        });
    }
    if raw.organization.as_ref().is_some_and(|o| o.trim().is_empty() || o.chars().count() > 64) {
        return Err(ConfigError::Invalid {
            key: "ca.organization",
            value: raw.organization.unwrap_or_default(),
            reason: "1 to 64 characters",
        });
    }
    Ok(CaConfig {
        one_time_validity: Duration::from_secs(validity),
        clock_skew: Duration::from_secs(skew),
        device_validity: Duration::from_secs(device_days * 86_400),
        crl_validity: Duration::from_secs(crl_hours * 3600),
        country: raw.country,
        organization: raw.organization,
    })
}

pub(super) fn tsa(raw: RawTsa, base: &Path) -> Result<TsaConfig, ConfigError> {
    let policy_text = raw.policy.unwrap_or_else(|| DEFAULT_TSA_POLICY.to_owned());
    let policy = policy_text.parse().map_err(|_| ConfigError::Invalid {
        key: "tsa.policy",
        value: policy_text.clone(),
        reason: "an OID in dotted form, e.g. 1.3.6.1.4.1.99999.1",
    })?;
    let accuracy_ms = raw.accuracy_ms.unwrap_or(1000);
    if !(1..=1000).contains(&accuracy_ms) {
        return Err(ConfigError::Invalid {
            key: "tsa.accuracy_ms",
            value: accuracy_ms.to_string(),
            reason: "the declared accuracy is 1 to 1000 milliseconds",
        });
    }
    let max_request_bytes = raw.max_request_bytes.unwrap_or(16 * 1024);
    if !(256..=1024 * 1024).contains(&max_request_bytes) {
        return Err(ConfigError::Invalid {
            key: "tsa.max_request_bytes",
            value: max_request_bytes.to_string(),
            reason: "between 256 and 1048576",
        });
    }
    let mode = match raw.mode.as_deref().unwrap_or("builtin") {
        "builtin" => TsaMode::Builtin,
        "external" => external_tsa(raw.urls.unwrap_or_default(), raw.trust, raw.timeout_ms, base)?,
        other => {
            return Err(ConfigError::Invalid {
                key: "tsa.mode",
                value: other.to_owned(),
                reason: "use builtin or external",
            });
        }
    };
    Ok(TsaConfig {
        mode,
        policy,
        accuracy: Duration::from_millis(accuracy_ms),
        max_request_bytes: max_request_bytes as usize,
    })
}

pub(super) fn external_tsa(
    urls: Vec<String>,
    trust: Option<PathBuf>,
    timeout_ms: Option<u64>,
    base: &Path,
) -> Result<TsaMode, ConfigError> {
    if urls.is_empty() {
        return Err(ConfigError::Invalid {
            key: "tsa.urls",
            value: "[]".into(),
            reason: "external mode needs at least one TSA URL",
        });
    }
    for url in &urls {
        let uri: Result<hyper::Uri, _> = url.parse();
        if !uri.is_ok_and(|u| u.scheme_str() == Some("http") && u.authority().is_some()) {
            return Err(ConfigError::Invalid {
                key: "tsa.urls",
                value: url.clone(),
                reason: "an http:// URL (tokens are signed; https is not supported yet)",
            });
        }
    }
    let timeout_ms = timeout_ms.unwrap_or(5_000);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ConfigError::Invalid {
            key: "tsa.timeout_ms",
            value: timeout_ms.to_string(),
            reason: "100 to 60000 milliseconds",
        });
    }
    let path = base.join(trust.ok_or(ConfigError::Invalid {
        key: "tsa.trust",
        value: String::new(),
        reason: "external mode needs a PEM file of the TSAs' trust anchors",
    })?);
    let trust = super::pem_certificates("tsa.trust", &path)?;
    Ok(TsaMode::External { urls, timeout: Duration::from_millis(timeout_ms), trust })
}

/// Whether `value` is a valid countryName: two ASCII capital letters (ISO 3166).
pub(super) fn is_country_code(value: &str) -> bool {
    value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase())
}
