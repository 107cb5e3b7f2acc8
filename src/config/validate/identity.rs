//! `[identity]` (the OpenID provider, or the demo's mock, and how esignd authenticates to it),
//! `[payment]` (the GovStack payment token) and `[outbound]` (whom its HTTPS calls trust).

use super::*;

pub(super) fn identity(raw: RawIdentity, base: &Path) -> Result<IdentityConfig, ConfigError> {
    let mock = match raw.mode.as_deref().unwrap_or("oidc") {
        "oidc" => false,
        "mock" if raw.issuer.is_none() => true,
        "mock" => {
            return Err(ConfigError::Invalid {
                key: "identity.issuer",
                value: raw.issuer.unwrap_or_default(),
                reason: "the mock provider is built in; leave identity.issuer unset",
            });
        }
        other => {
            return Err(ConfigError::Invalid {
                key: "identity.mode",
                value: other.to_owned(),
                reason: "use oidc or mock",
            });
        }
    };
    // The issuer is compared exactly with the discovery document's and the tokens' `iss`, so it
    // is kept as written (a trailing slash included).
    if let Some(issuer) = &raw.issuer {
        http_url("identity.issuer", issuer)?;
    }
    let client_id = raw.client_id.unwrap_or_else(|| "esignd".to_owned());
    let client_auth = client_auth(raw.client_auth.as_deref(), raw.client_secret_file, raw.client_secret, base)?;
    let timeout_ms = raw.timeout_ms.unwrap_or(5_000);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ConfigError::Invalid {
            key: "identity.timeout_ms",
            value: timeout_ms.to_string(),
            reason: "100 to 60000 milliseconds",
        });
    }
    let max_age_secs = raw.max_age_secs.unwrap_or(0);
    if max_age_secs > 86_400 {
        return Err(ConfigError::Invalid {
            key: "identity.max_age_secs",
            value: max_age_secs.to_string(),
            reason: "0 (a fresh login for every signature) to 86400 seconds",
        });
    }
    let acr_values = raw.acr_values.unwrap_or_default();
    if let Some(bad) = acr_values.iter().find(|acr| acr.is_empty() || acr.contains(char::is_whitespace)) {
        return Err(ConfigError::Invalid {
            key: "identity.acr_values",
            value: bad.clone(),
            reason: "authentication context class references without spaces",
        });
    }
    Ok(IdentityConfig {
        max_age: Duration::from_secs(max_age_secs),
        acr_values,
        mock,
        issuer: raw.issuer,
        audience: raw.audience.unwrap_or_else(|| client_id.clone()),
        client_id,
        claims: IdentityClaims {
            name: raw.name_claim.unwrap_or_else(|| "name".to_owned()),
            subject_id: raw.subject_claim.unwrap_or_else(|| "sub".to_owned()),
        },
        timeout: Duration::from_millis(timeout_ms),
        client_auth,
        scopes: raw.scopes.unwrap_or_else(|| vec!["openid".to_owned(), "profile".to_owned()]),
        introspection: raw.introspection.unwrap_or(false),
        reuse_client_assertion: raw.reuse_client_assertion.unwrap_or(false),
    })
}

/// `[identity] client_auth`: `private_key_jwt` (the HSM service key; no secret), or
/// `client_secret_basic` with exactly one of a secret file and `ESIGND__IDENTITY__CLIENT_SECRET`.
fn client_auth(
    client_auth: Option<&str>,
    secret_file: Option<PathBuf>,
    secret: Option<secrecy::SecretString>,
    base: &Path,
) -> Result<ClientAuth, ConfigError> {
    Ok(match (client_auth.unwrap_or("private_key_jwt"), secret_file, secret) {
        ("private_key_jwt", None, None) => ClientAuth::PrivateKeyJwt,
        ("client_secret_basic", Some(file), None) => {
            let path = base.join(file);
            let secret = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                key: "identity.client_secret_file",
                path: path.clone(),
                reason: e.to_string(),
            })?;
            ClientAuth::ClientSecretBasic(secret.trim_end().to_owned().into())
        }
        ("client_secret_basic", None, Some(secret)) => ClientAuth::ClientSecretBasic(secret),
        ("client_secret_basic", None, None) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret_file",
                value: String::new(),
                reason: "client_secret_basic needs identity.client_secret_file (or ESIGND__IDENTITY__CLIENT_SECRET)",
            });
        }
        ("private_key_jwt", _, _) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret_file",
                value: String::new(),
                reason: "private_key_jwt signs with the HSM service key; a client secret is not used",
            });
        }
        ("client_secret_basic", Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret",
                value: String::new(),
                reason: "set either identity.client_secret_file or ESIGND__IDENTITY__CLIENT_SECRET, not both",
            });
        }
        (other, _, _) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_auth",
                value: other.to_owned(),
                reason: "use private_key_jwt or client_secret_basic",
            });
        }
    })
}

/// A URL esignd will call or send a browser to: https, or http to a loopback address only.
pub(super) fn http_url(key: &'static str, url: &str) -> Result<String, ConfigError> {
    crate::outbound::check_url(url).map_err(|reason| ConfigError::Invalid { key, value: url.to_owned(), reason })?;
    Ok(url.trim_end_matches('/').to_owned())
}

pub(super) fn outbound(raw: RawOutbound, base: &Path) -> Result<OutboundConfig, ConfigError> {
    let system_roots = raw.system_roots.unwrap_or(true);
    let anchors = match raw.ca_file {
        None => Vec::new(),
        Some(file) => {
            let path = base.join(file);
            pem_certificates("outbound.ca_file", &path)?
                .iter()
                .map(der::Encode::to_der)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::File { key: "outbound.ca_file", path, reason: e.to_string() })?
        }
    };
    if !system_roots && anchors.is_empty() {
        return Err(ConfigError::Invalid {
            key: "outbound.system_roots",
            value: "false".into(),
            reason: "without the system roots, give outbound.ca_file, or no HTTPS call can succeed",
        });
    }
    Ok(OutboundConfig { system_roots, anchors })
}

pub(super) fn payment(raw: RawPayment) -> Result<PaymentConfig, ConfigError> {
    let required = raw.required.unwrap_or(false);
    let jwks_url = raw.jwks_url.as_deref().map(|u| http_url("payment.jwks_url", u)).transpose()?;
    if required && jwks_url.is_none() {
        return Err(ConfigError::Invalid {
            key: "payment.jwks_url",
            value: String::new(),
            reason: "payment.required = true needs the payment provider's JWKS URL",
        });
    }
    // Without both, a token the provider issued to anyone else, or a token of another issuer
    // sharing the key set, would pay for esignd's signatures.
    for (key, value) in [("payment.audience", &raw.audience), ("payment.issuer", &raw.issuer)] {
        if required && value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            return Err(ConfigError::Invalid {
                key,
                value: String::new(),
                reason: "payment.required = true needs the payment provider's issuer and esignd's audience in its tokens",
            });
        }
    }
    Ok(PaymentConfig { required, jwks_url, issuer: raw.issuer, audience: raw.audience })
}
