//! The device's long poll: its pending requests now, or the first to be queued within the
//! wait. Queueing a request wakes that device's poll only ([`super::waiters`]); a newer poll of
//! the same device answers the older; a stopping daemon answers them all at once, so that its
//! drain need not wait out their timeouts. On a store shared by several daemons, a request
//! queued on another daemon wakes the poll through the store's notifications.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{DeviceRequest, DeviceRequests};
use crate::service::ServiceError;
use crate::store::devices::DeviceCertificateRow;

/// How often a long poll looks at a shared store without being woken.
const RECHECK: Duration = Duration::from_secs(5);

impl DeviceRequests {
    /// The pending requests for `device`, waiting up to `wait` for one to arrive.
    ///
    /// # Errors
    /// Store failures; a damaged stored request.
    pub async fn pending_for(
        &self,
        device: &DeviceCertificateRow,
        wait: Duration,
    ) -> Result<Vec<DeviceRequest>, ServiceError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Taken before the store is read, so a request queued meanwhile wakes it.
        let place = self.waiters.enter(&device.certificate_id);
        loop {
            let rows = self.core.store.pending_device_requests(&device.certificate_id, SystemTime::now()).await?;
            let over = self.stopping.load(Ordering::Acquire) || place.superseded();
            if !rows.is_empty() || over || tokio::time::Instant::now() >= deadline {
                return Ok(rows.iter().map(DeviceRequest::from_row).collect::<Result<_, _>>()?);
            }
            // On a shared store a wake-up from another daemon can be missed while its
            // notification connection is made again: look again now and then.
            let recheck = if self.shared.load(Ordering::Acquire) { RECHECK } else { wait };
            tokio::select! {
                () = place.woken() => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = tokio::time::sleep(recheck) => {}
            }
        }
    }

    /// The daemon is stopping: answer every long poll now (with what is pending) and every
    /// later one at once.
    pub fn stop_polls(&self) {
        self.stopping.store(true, Ordering::Release);
        self.waiters.wake_all();
    }
}
