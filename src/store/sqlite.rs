//! The embedded store: one SQLite file (`[store] path`) in WAL mode. Calls run on tokio's
//! blocking pool against one connection; SQLite serialises writers anyway, and one connection
//! keeps every write's transaction simple.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, epoch, schema};

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Open (or create) the database at `path`, owner-only, WAL, schema migrated.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::SchemaTooNew`], database errors.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open { path: path.to_owned(), reason };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        // The store holds certificates, which name people: owner-only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| open_error(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Run `work` with the connection on the blocking pool.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || work(&mut conn.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}

impl Store for SqliteStore {
    async fn publish_certificate(&self, serial: &str, der: &[u8], not_after: SystemTime) -> Result<(), StoreError> {
        let (serial, der) = (serial.to_owned(), der.to_vec());
        self.with(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO certificates (serial, der, not_after, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![serial, der, epoch(not_after), epoch(SystemTime::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let serial = serial.to_ascii_lowercase();
        self.with(move |conn| {
            Ok(conn
                .query_row("SELECT der FROM certificates WHERE serial = ?1", [serial], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn remember_once(&self, kind: &str, id: &str, until: SystemTime) -> Result<bool, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.with(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO seen_once (kind, id, until) VALUES (?1, ?2, ?3)",
                params![kind, id, epoch(until)],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, StoreError> {
        self.with(move |conn| Ok(conn.execute("DELETE FROM seen_once WHERE until < ?1", [epoch(now)])?)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}
