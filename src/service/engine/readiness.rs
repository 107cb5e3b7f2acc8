//! The TSA part of `/readyz`: can a signature be time-stamped right now? A one-time signature
//! without a timestamp is not returned, so a TSA that cannot stamp means the service cannot sign.
//!
//! The probe asks for a real token over a fixed probe imprint and verifies it fully: the built-in
//! TSA's key answers in the HSM and its certificate chains to the CA and is valid at genTime; an
//! external TSA answers within its deadline with a token that passes the client's checks. An
//! external TSA may count or charge requests, so each outcome is kept for [`PROBE_INTERVAL`] and
//! probes arriving meanwhile are answered from it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{EngineError, SigningEngine, Timestamper};
use crate::hsm::KeyStore;
use crate::tsa::builtin::sha256_imprint;

/// How long a probe's outcome answers readiness checks.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(15);

/// What the last TSA probe found.
#[derive(Clone, Debug)]
pub struct TsaReadiness {
    /// `builtin` or `external`.
    pub mode: &'static str,
    /// The TSA that answered (external mode).
    pub url: Option<String>,
    /// When the probe ran.
    pub checked: SystemTime,
    /// Why no valid token came back, if none did.
    pub error: Option<String>,
}

/// The last probe, shared by concurrent readiness checks.
#[derive(Default)]
pub(super) struct ProbeCache(tokio::sync::Mutex<Option<(Instant, TsaReadiness)>>);

const PROBE_DATA: &[u8] = b"esignd readiness probe";

impl<K: KeyStore> SigningEngine<K> {
    /// Whether timestamps can be had now (at most [`PROBE_INTERVAL`] old).
    pub async fn tsa_readiness(self: &Arc<Self>) -> TsaReadiness {
        let mut last = self.tsa_probe.0.lock().await;
        if let Some((at, readiness)) = last.as_ref()
            && at.elapsed() < PROBE_INTERVAL
        {
            return readiness.clone();
        }
        let readiness = self.probe_tsa().await;
        if let Some(error) = &readiness.error {
            tracing::warn!(mode = readiness.mode, error = %error, "readiness: TSA check failed");
        }
        *last = Some((Instant::now(), readiness.clone()));
        readiness
    }

    async fn probe_tsa(self: &Arc<Self>) -> TsaReadiness {
        let checked = SystemTime::now();
        match &self.timestamper {
            Timestamper::Builtin(_) => {
                let service = Arc::clone(self);
                let outcome = self
                    .hsm
                    .with_session(move |session| {
                        let Timestamper::Builtin(tsa) = &service.timestamper else { unreachable!("matched above") };
                        let imprint = sha256_imprint(PROBE_DATA)?;
                        let token = tsa.stamp(
                            session,
                            &service.inventory().tsa_key,
                            imprint.clone(),
                            None,
                            true,
                            SystemTime::now(),
                        )?;
                        crate::tsa::verify::verify_token(&token, &imprint, None, service.ca.chain())?;
                        Ok::<_, EngineError>(())
                    })
                    .await;
                TsaReadiness { mode: "builtin", url: None, checked, error: outcome.err().map(|e| e.to_string()) }
            }
            Timestamper::External(client) => match client.timestamp(PROBE_DATA).await {
                Ok(stamped) => TsaReadiness { mode: "external", url: Some(stamped.url), checked, error: None },
                Err(e) => TsaReadiness { mode: "external", url: None, checked, error: Some(e.to_string()) },
            },
        }
    }
}
