//! `[store]`: SQLite by `path` (the embedded default, `esignd.db` beside the configuration) or
//! PostgreSQL by `url`, how long signatures wait for redemption, how often the sweeper runs.

use super::*;
use crate::config::{PasswordSource, PostgresConfig, StoreEngine};

/// Connections per daemon to PostgreSQL when `store.connections` is not set: enough for the HSM
/// sessions' transactions plus the long polls' and sweeper's reads.
const DEFAULT_CONNECTIONS: usize = 16;

pub(super) fn store(raw: RawStore, base: &Path) -> Result<StoreConfig, ConfigError> {
    let response_ttl = raw.response_ttl_secs.unwrap_or(600);
    if !(10..=7 * 86_400).contains(&response_ttl) {
        return Err(ConfigError::Invalid {
            key: "store.response_ttl_secs",
            value: response_ttl.to_string(),
            reason: "10 seconds to 7 days",
        });
    }
    let sweep = raw.sweep_interval_secs.unwrap_or(60);
    if !(1..=86_400).contains(&sweep) {
        return Err(ConfigError::Invalid {
            key: "store.sweep_interval_secs",
            value: sweep.to_string(),
            reason: "1 to 86400 seconds",
        });
    }
    let engine = match raw.url {
        None => {
            if raw.password.is_some() || raw.password_file.is_some() || raw.connections.is_some() {
                return Err(ConfigError::Invalid {
                    key: "store.url",
                    value: String::new(),
                    reason: "store.password, password_file and connections are for PostgreSQL: set store.url too",
                });
            }
            StoreEngine::Sqlite(base.join(raw.path.unwrap_or_else(|| PathBuf::from("esignd.db"))))
        }
        Some(url) => {
            if raw.path.is_some() {
                return Err(ConfigError::Invalid {
                    key: "store.path",
                    value: String::new(),
                    reason: "store.path (SQLite) and store.url (PostgreSQL) name two stores: keep one",
                });
            }
            StoreEngine::Postgres(postgres(url, raw.password, raw.password_file, raw.connections, base)?)
        }
    };
    Ok(StoreConfig {
        engine,
        response_ttl: Duration::from_secs(response_ttl),
        sweep_interval: Duration::from_secs(sweep),
    })
}

fn postgres(
    url: String,
    password: Option<secrecy::SecretString>,
    password_file: Option<PathBuf>,
    connections: Option<usize>,
    base: &Path,
) -> Result<PostgresConfig, ConfigError> {
    let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) else {
        return Err(ConfigError::Invalid {
            key: "store.url",
            value: url,
            reason: "a PostgreSQL URL: postgres://user@host:port/database",
        });
    };
    let userinfo = rest.split(['/', '?']).next().unwrap_or_default().rsplit_once('@').map(|(userinfo, _)| userinfo);
    if userinfo.is_some_and(|userinfo| userinfo.contains(':')) || rest.contains("password=") {
        // Not echoed: the value holds the password.
        return Err(ConfigError::Invalid {
            key: "store.url",
            value: "(not shown)".to_owned(),
            reason: "the URL holds a password; put it in store.password_file or ESIGND__STORE__PASSWORD",
        });
    }
    let password = match (password_file, password) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                key: "store.password_file",
                value: String::new(),
                reason: "both store.password_file and ESIGND__STORE__PASSWORD are set; keep one",
            });
        }
        (Some(file), None) => Some(PasswordSource::File(base.join(file))),
        (None, Some(password)) => Some(PasswordSource::Environment(password)),
        (None, None) => None,
    };
    let connections = connections.unwrap_or(DEFAULT_CONNECTIONS);
    if !(1..=256).contains(&connections) {
        return Err(ConfigError::Invalid {
            key: "store.connections",
            value: connections.to_string(),
            reason: "1 to 256 connections",
        });
    }
    Ok(PostgresConfig { url, password, connections })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str) -> RawStore {
        RawStore { url: Some(url.to_owned()), ..RawStore::default() }
    }

    #[test]
    fn postgres_urls_are_checked_and_never_carry_a_password() {
        let base = Path::new("/etc/esignd");
        let config = store(raw("postgres://esignd@db:5432/esignd"), base).unwrap();
        assert!(matches!(&config.engine, StoreEngine::Postgres(pg) if pg.connections == DEFAULT_CONNECTIONS));
        let error = store(raw("postgres://esignd:hunter2@db/esignd"), base).unwrap_err().to_string();
        assert!(error.contains("password_file") && !error.contains("hunter2"), "{error}");
        assert!(store(raw("mysql://db/esignd"), base).is_err());
        let both = RawStore { path: Some("esignd.db".into()), ..raw("postgres://db/esignd") };
        assert!(store(both, base).unwrap_err().to_string().contains("keep one"));
        let stray = RawStore { connections: Some(4), ..RawStore::default() };
        assert!(store(stray, base).unwrap_err().to_string().contains("store.url"));
        let sqlite = store(RawStore::default(), base).unwrap();
        assert!(matches!(sqlite.engine, StoreEngine::Sqlite(path) if path == Path::new("/etc/esignd/esignd.db")));
    }
}
