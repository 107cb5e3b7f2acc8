//! The shared store: PostgreSQL (`[store] url = "postgres://…"`), for several daemons behind a
//! load balancer. A pool of connections (deadpool-postgres over tokio-postgres); statements
//! are prepared once per connection and cached.
//!
//! Every write is one transaction at PostgreSQL's default READ COMMITTED level. Several
//! daemons writing at once stay correct by these means, each chosen for what it guards:
//! - **Compare-and-set by `UPDATE … WHERE status = $from`** (sessions, device requests, device
//!   certificates): the row lock makes a second writer wait, then re-check the condition on the
//!   committed row and find it moved.
//! - **Single use by `DELETE … RETURNING`** (redemption) and **`INSERT … ON CONFLICT DO
//!   NOTHING`** (replay caches, spent payment ids, correlation ids): the unique index decides
//!   the one winner.
//! - **The CRL by `ON CONFLICT … DO UPDATE … WHERE number < excluded.number`**: a number is
//!   installed once, and never a lower one after a higher.
//! - **Advisory locks, transaction-scoped**, where there is no row to lock yet: the audit
//!   chain's append ([`audit::append`]: one head, one writer at a time — a sequence would give
//!   numbers but not the previous record's hash), a pseudonym's first certificate, a device's
//!   queue cap (the count and the insert must not interleave).
//! - **`FOR UPDATE SKIP LOCKED`** for the outbox, so that daemons claiming deliveries at once
//!   take different ones instead of waiting for each other.
//! - `FOR SHARE` on a device certificate while its signature is kept, so a state change waits.
//!
//! The one-time signatures' writes, the busiest, go through one task per daemon that writes those
//! finished together in one transaction ([`super::group_commit`], [`publisher`]): one hold of
//! the chain's lock and one commit for many signatures.
//!
//! A request queued on one daemon wakes the device's long poll on another by `NOTIFY` ([`listen`]).
//!
//! Certificate and TSA serial numbers are random (`ca::serial`), so daemons need no counter.

mod audit;
mod device_requests;
mod devices;
mod listen;
mod outbox;
mod publisher;
mod schema;
mod sessions;
mod tls;

use std::time::{Duration, Instant};

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::types::ToSql;

use super::StoreError;

/// How long a request waits for a connection, or for a new one to be made, before the store
/// counts as unavailable (a 503 to the caller).
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The one-time signatures' writes, grouped into shared transactions.
    publisher: std::sync::Arc<super::group_commit::GroupCommit>,
    /// How to connect (the device wake-up listener's own connection).
    config: tokio_postgres::Config,
    tls: tls::Rustls,
    /// Each call's time, waiting for a connection included (the operator's metrics).
    latency: Option<prometheus_client::metrics::histogram::Histogram>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connect to `url` (a libpq URL without a password; its `sslmode` says whether TLS is
    /// used) with `password`, trusting `trust`'s roots for TLS, keep at most `connections`
    /// open, and bring the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Open`] for a URL that cannot be used or a server that does not answer,
    /// [`StoreError::SchemaTooNew`], database errors.
    pub async fn connect(
        url: &str,
        password: Option<&SecretString>,
        connections: usize,
        trust: rustls::ClientConfig,
    ) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open { path: redacted(url).into(), reason };
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| open_error(format!("{e}")))?;
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        config.application_name("esignd");
        config.connect_timeout(CONNECTION_WAIT);
        let tls = tls::Rustls::new(trust);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let timeouts =
            Timeouts { wait: Some(CONNECTION_WAIT), create: Some(CONNECTION_WAIT), recycle: Some(CONNECTION_WAIT) };
        let pool = Pool::builder(manager)
            .max_size(connections.max(1))
            .timeouts(timeouts)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let publisher =
            std::sync::Arc::new(super::group_commit::GroupCommit::new(publisher::write_group(pool.clone())));
        let store = Self { pool, publisher, config, tls, latency: None };
        let mut client = store.pool.get().await.map_err(|e| open_error(pool_reason(&e)))?;
        schema::migrate(&mut client).await?;
        Ok(store)
    }

    /// The same store, timing each call into `latency`.
    #[must_use]
    pub fn timed(mut self, latency: prometheus_client::metrics::histogram::Histogram) -> Self {
        self.latency = Some(latency);
        self
    }

    /// A timer that observes a call's time when dropped.
    fn timer(&self) -> CallTimer<'_> {
        CallTimer { started: Instant::now(), latency: self.latency.as_ref() }
    }

    /// A connection from the pool, and a timer that observes the call's time when dropped.
    async fn client(&self) -> Result<(deadpool_postgres::Object, CallTimer<'_>), StoreError> {
        let timer = self.timer();
        let client = self.pool.get().await.map_err(|e| StoreError::Unavailable(pool_reason(&e)))?;
        Ok((client, timer))
    }
}

/// Observes a store call's time into the latency histogram when the call ends.
struct CallTimer<'a> {
    started: Instant,
    latency: Option<&'a prometheus_client::metrics::histogram::Histogram>,
}

impl Drop for CallTimer<'_> {
    fn drop(&mut self) {
        if let Some(latency) = self.latency {
            latency.observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// The URL with any password in it replaced (for messages).
fn redacted(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Why the pool gave no connection, in words an operator can act on.
fn pool_reason(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => describe(e),
        deadpool_postgres::PoolError::Timeout(_) => {
            format!("no PostgreSQL connection within {} s (server down or pool exhausted)", CONNECTION_WAIT.as_secs())
        }
        other => other.to_string(),
    }
}

/// A PostgreSQL error with its cause: the server's message and SQLSTATE, or the connection's
/// failure. The server's DETAIL is left out: it can quote values (a pseudonym in a key clash).
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.is_closed() || error.as_db_error().is_none() && std::error::Error::source(&error).is_some() {
            Self::Unavailable(describe(&error))
        } else {
            Self::Postgres(describe(&error))
        }
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The placeholders of a multi-row `VALUES` list: `($1, $2), ($3, $4)` for 2 rows of 2 columns.
fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let placeholders: Vec<String> =
                (1..=columns).map(|column| format!("${}", row * columns + column)).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Execute `sql` (prepared once per connection); the rows it changed.
async fn execute(client: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
}

/// The rows of `sql`.
async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// The row of `sql`, if any.
async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<tokio_postgres::Row>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&statement, params).await?)
}

/// Take the transaction-scoped advisory lock named `name` (its 64-bit hash): held until the
/// transaction ends, so what the caller reads and writes under it does not interleave with
/// another transaction under the same name.
async fn lock(client: &impl GenericClient, name: &str) -> Result<(), StoreError> {
    execute(client, LOCK_SQL, &[&name]).await?;
    Ok(())
}

/// [`lock`]'s statement.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// A state column's text as the vocabulary's value; a name it does not know is a damaged (or
/// newer) store.
fn state<T: std::str::FromStr>(text: String, column: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Unreadable { what: column, value: text })
}

#[cfg(test)]
mod tests {
    use super::{redacted, values};

    #[test]
    fn a_values_list_numbers_its_placeholders_row_by_row() {
        assert_eq!(values(1, 3), "($1, $2, $3)");
        assert_eq!(values(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(values(3, 6).matches('$').count(), 18);
        assert!(values(3, 6).ends_with("($13, $14, $15, $16, $17, $18)"));
    }

    #[test]
    fn a_password_in_the_url_never_reaches_a_message() {
        assert_eq!(redacted("postgres://esignd:hunter2@db:5432/esignd"), "postgres://esignd:***@db:5432/esignd");
        assert_eq!(redacted("postgres://esignd@db/esignd"), "postgres://esignd@db/esignd");
        assert_eq!(redacted("host=db user=esignd"), "host=db user=esignd");
    }
}
