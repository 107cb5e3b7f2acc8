//! The device's long poll: its pending requests now, or the first to be queued within the
//! wait. Queueing a request wakes every waiting poll (each looks again in the store); a stopping
//! daemon answers them all at once, so that its drain need not wait out their timeouts.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{DeviceRequest, DeviceRequests};
use crate::service::ServiceError;
use crate::store::devices::DeviceCertificateRow;

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
        loop {
            let notified = self.waiters.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let rows = self.core.store.pending_device_requests(&device.certificate_id, SystemTime::now()).await?;
            let stopping = self.stopping.load(Ordering::Acquire);
            if !rows.is_empty() || stopping || tokio::time::Instant::now() >= deadline {
                return Ok(rows.iter().map(DeviceRequest::from_row).collect::<Result<_, _>>()?);
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The daemon is stopping: answer every long poll now (with what is pending) and every
    /// later one at once.
    pub fn stop_polls(&self) {
        self.stopping.store(true, Ordering::Release);
        self.waiters.notify_waiters();
    }
}
