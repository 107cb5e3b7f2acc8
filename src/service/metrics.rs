//! The operator's view ([`crate::metrics`]): the service counts what passes through it and, at
//! each scrape, sets the gauges of state it does not own (the HSM session pool, the audit
//! trail's head and what no checkpoint covers yet).

use super::EsignService;
use crate::metrics::Metrics;

impl EsignService {
    /// The metrics the door and the workflows update.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The text exposition, gauges read now. A store that does not answer leaves the audit
    /// gauges as they were (the scrape still answers: an operator needs metrics most then).
    pub async fn metrics_text(&self) -> String {
        let pool = self.core.engine.hsm_pool();
        let metrics = &self.metrics;
        metrics.hsm_sessions.set(pool.sessions as i64);
        metrics.hsm_in_use.set(pool.in_use as i64);
        let waited = pool.waits.saturating_sub(metrics.hsm_waits.get());
        metrics.hsm_waits.inc_by(waited);
        if let Some(pool) = self.core.engine.key_pool() {
            metrics.key_pool_size.set(pool.size as i64);
            metrics.key_pool_ready.set(pool.ready as i64);
            metrics.key_pool_empty.inc_by(pool.empty.saturating_sub(metrics.key_pool_empty.get()));
        }
        let store = &self.core.store;
        if let (Ok(head), Ok(latest)) = (store.audit_head().await, store.latest_checkpoint().await) {
            let head = head.map_or(0, |record| record.seq);
            let covered = latest.map_or(0, |checkpoint| checkpoint.seq);
            metrics.audit_head.set(head as i64);
            metrics.audit_unchecked.set(head.saturating_sub(covered) as i64);
        }
        if let Ok((waiting, oldest)) = store.outbox_backlog().await {
            metrics.outbox_backlog.set(waiting as i64);
            let now = crate::store::epoch_millis(std::time::SystemTime::now());
            let age = oldest.map_or(0, |created| (now - created).max(0) / 1000);
            metrics.outbox_oldest_seconds.set(age);
        }
        metrics.encode()
    }
}
