//! Who is long-polling, by device: queueing a request wakes only the poll of the device it is
//! for (not every poll, each of which would then ask the store), and a device holds one poll at
//! a time — a newer poll from it answers the older one at once, so a device (or someone with its
//! JWT) cannot pile up waiting connections. A stopping daemon wakes them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The polls waiting, by certificate id.
#[derive(Default)]
pub(super) struct Waiters {
    by_device: Mutex<HashMap<String, Slot>>,
}

/// The one poll a device holds: its turn number and how to wake it.
struct Slot {
    turn: u64,
    wake: Arc<Notify>,
}

/// A poll's place: woken by [`Waiters::wake`] for its device, by a newer poll of the same device
/// ([`Place::superseded`]) or by [`Waiters::wake_all`]; it leaves the table when dropped.
pub(super) struct Place<'a> {
    waiters: &'a Waiters,
    device: String,
    turn: u64,
    wake: Arc<Notify>,
}

impl Waiters {
    /// Take the device's place, waking the poll that held it.
    pub fn enter(&self, device: &str) -> Place<'_> {
        let mut table = self.by_device.lock().unwrap_or_else(PoisonError::into_inner);
        let turn = table.get(device).map_or(0, |slot| slot.turn + 1);
        let wake = Arc::new(Notify::new());
        if let Some(old) = table.insert(device.to_owned(), Slot { turn, wake: Arc::clone(&wake) }) {
            old.wake.notify_one();
        }
        Place { waiters: self, device: device.to_owned(), turn, wake }
    }

    /// A request was queued for `device`: wake its poll, if there is one.
    pub fn wake(&self, device: &str) {
        if let Some(slot) = self.by_device.lock().unwrap_or_else(PoisonError::into_inner).get(device) {
            slot.wake.notify_one();
        }
    }

    /// Wake every poll (the daemon is stopping).
    pub fn wake_all(&self) {
        for slot in self.by_device.lock().unwrap_or_else(PoisonError::into_inner).values() {
            slot.wake.notify_one();
        }
    }

    /// How many devices are polling.
    #[cfg(test)]
    fn polling(&self) -> usize {
        self.by_device.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Place<'_> {
    /// Wait until woken (a wake-up that came before this call is not lost: `notify_one` keeps it).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Whether a newer poll of the same device took the place.
    pub fn superseded(&self) -> bool {
        let table = self.waiters.by_device.lock().unwrap_or_else(PoisonError::into_inner);
        table.get(&self.device).is_none_or(|slot| slot.turn != self.turn)
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut table = self.waiters.by_device.lock().unwrap_or_else(PoisonError::into_inner);
        if table.get(&self.device).is_some_and(|slot| slot.turn == self.turn) {
            table.remove(&self.device);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn woken_within(place: &Place<'_>, millis: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(millis), place.woken()).await.is_ok()
    }

    #[tokio::test]
    async fn a_request_wakes_its_own_device_only() {
        let waiters = Waiters::default();
        let (phone, watch) = (waiters.enter("phone"), waiters.enter("watch"));
        waiters.wake("phone");
        assert!(woken_within(&phone, 1000).await);
        assert!(!woken_within(&watch, 50).await, "another device's poll sleeps on");
        // A wake-up before the poll waits is kept.
        waiters.wake("watch");
        assert!(woken_within(&watch, 1000).await);
        drop((phone, watch));
        assert_eq!(waiters.polling(), 0, "polls leave the table");
    }

    #[tokio::test]
    async fn a_device_holds_one_poll_and_stopping_wakes_all() {
        let waiters = Waiters::default();
        let first = waiters.enter("phone");
        let second = waiters.enter("phone");
        assert!(woken_within(&first, 1000).await, "the older poll is answered");
        assert!(first.superseded());
        assert!(!second.superseded());
        drop(first);
        assert_eq!(waiters.polling(), 1, "the older poll leaving does not remove the newer");
        let other = waiters.enter("watch");
        waiters.wake_all();
        assert!(woken_within(&second, 1000).await && woken_within(&other, 1000).await);
    }
}
