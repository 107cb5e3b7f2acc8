//! Wake-ups across daemons: a device long-polling on one daemon must wake when another queues
//! a request for it. The queueing transaction sends `NOTIFY esignd_device_requests,
//! '<certificate id>'`, which PostgreSQL delivers only if and when it commits; every daemon
//! keeps one connection of its own (outside the pool) that `LISTEN`s and hands each id to the
//! long polls. A lost connection is made again; since notifications sent meanwhile are gone,
//! every poll is then told to look again, and polls look again every few seconds anyway.

use std::time::Duration;

use tokio_postgres::AsyncMessage;

use super::{describe, execute};
use crate::store::StoreError;
use crate::store::device_requests::DeviceWake;

/// The notification channel.
const CHANNEL: &str = "esignd_device_requests";

/// How long to wait before connecting again after the listener's connection was lost.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announce, within the caller's transaction, that a request for `certificate_id` is queued.
pub(super) async fn announce(
    client: &impl deadpool_postgres::GenericClient,
    certificate_id: &str,
) -> Result<(), StoreError> {
    execute(client, "SELECT pg_notify($1, $2)", &[&CHANNEL, &certificate_id]).await?;
    Ok(())
}

/// Listen on `config`'s server for as long as `wake` wants it, reconnecting when the connection
/// is lost.
pub(super) fn spawn(config: tokio_postgres::Config, tls: super::tls::Rustls, wake: DeviceWake) {
    tokio::spawn(async move {
        loop {
            match listen(&config, tls.clone(), &wake).await {
                Ok(false) => return,
                Ok(true) => tracing::warn!("the PostgreSQL connection for device wake-ups closed; connecting again"),
                Err(e) => {
                    tracing::warn!(error = %describe(&e), "the PostgreSQL connection for device wake-ups failed; connecting again")
                }
            }
            // Whatever was queued while nobody listened: every poll looks again.
            if !wake(None) {
                return;
            }
            tokio::time::sleep(RECONNECT).await;
        }
    });
}

/// One connection's life: `Ok(false)` when `wake` no longer wants wake-ups, `Ok(true)` when the
/// server closed the connection.
async fn listen(
    config: &tokio_postgres::Config,
    tls: super::tls::Rustls,
    wake: &DeviceWake,
) -> Result<bool, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls).await?;
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Requests queued before LISTEN took effect.
    let mut wanted = wake(None);
    while wanted && let Some(device) = received.recv().await {
        wanted = wake(Some(&device));
    }
    if !wanted {
        driver.abort();
        return Ok(false);
    }
    match driver.await {
        Ok(Err(e)) => Err(e),
        _ => Ok(true),
    }
}
