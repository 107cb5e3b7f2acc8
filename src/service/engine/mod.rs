//! The signing engine: [`SigningEngine`] runs the one-time signing transaction (DESIGN §3) over
//! the key store, the CA, CMS assembly and the TSA, finishes device signatures, signs device
//! certificates, CRLs and the service's JWSs, and answers built-in TSA requests. The workflows
//! above reach it as an [`Engine`] trait object, where the key store's type parameter stops.
//!
//! It knows the [`KeyStore`] trait, never cryptoki. The persistent keys it uses (CA, TSA) are
//! found and checked once at start-up ([`crate::preflight`]) and looked up again only if the
//! token says their handles went stale.

mod audit_keys;
mod checks;
mod contract;
mod device_ca;
mod device_sign;
mod error;
mod one_time;
mod readiness;
mod record;
mod stamp;

use std::sync::{Arc, RwLock};

pub use audit_keys::CheckpointProof;
pub use checks::BrokenRule;
pub use contract::Engine;
pub use device_sign::{DeviceSignature, device_scheme, device_signed_attributes};
pub use error::EngineError;
pub use one_time::OneTimeRequest;
pub use readiness::{PROBE_INTERVAL, TsaReadiness};
pub use record::{SignatureRecord, StepTimes};

/// A time-stamp query the built-in TSA read and accepts ([`SigningEngine::read_tsa_query`]).
pub use crate::tsa::builtin::Query as TsaQuery;

use crate::ca::extensions::{ID_ESIGND_DEMO_POLICY, has_policy};
use crate::ca::{Ca, IssuancePolicy, subject::SubjectTemplate};
use crate::config::{Config, KeyLabels, TsaMode, WhenEmpty};
use crate::hsm::blocking::AsyncKeys;
use crate::hsm::key_pool::{KeyPool, KeyPoolUse};
use crate::hsm::{KeyAlgorithm, KeyStore};
use crate::preflight::{self, Inventory};
use crate::tsa::builtin::BuiltinTsa;
use crate::tsa::client::TsaClient;

/// Where timestamps come from.
#[derive(Debug)]
pub enum Timestamper {
    /// The built-in TSA, signing with the TSA key in the same HSM.
    Builtin(Box<BuiltinTsa>),
    /// External TSAs over HTTP.
    External(TsaClient),
}

/// The signing service.
pub struct SigningEngine<K: KeyStore> {
    hsm: AsyncKeys<K>,
    labels: KeyLabels,
    inventory: RwLock<Arc<Inventory<K::Session>>>,
    ca: Ca,
    timestamper: Timestamper,
    ephemeral: KeyAlgorithm,
    /// One-time keys made ahead of need (`[hsm.key_pool]`), and what to do when it is empty.
    key_pool: Option<(KeyPool<K>, WhenEmpty)>,
    tsa_probe: readiness::ProbeCache,
}

impl<K: KeyStore> SigningEngine<K> {
    /// Check the token's objects and set the service up from `config`. Blocks on the HSM: call
    /// it at start-up or from a blocking context.
    ///
    /// # Errors
    /// What [`preflight::check`] finds missing or unfit; HSM errors.
    pub fn new(keys: Arc<K>, config: &Config) -> Result<Self, EngineError> {
        let inventory = {
            let session = keys.session()?;
            preflight::check(&session, &config.hsm.keys)?
        };
        let policy = IssuancePolicy {
            validity: config.ca.one_time_validity,
            device_validity: config.ca.device_validity,
            crl_url: format!("{}/v1/crl", config.server.public_url),
            skew: config.ca.clock_skew,
            template: SubjectTemplate {
                country: config.ca.country.clone(),
                organization: config.ca.organization.clone(),
            },
            ca_issuers_url: format!("{}/v1/ca", config.server.public_url),
            demo: config.identity.mock,
        };
        let demo_ca = has_policy(&inventory.ca_chain[0], ID_ESIGND_DEMO_POLICY);
        if config.identity.mock && !demo_ca {
            return Err(crate::ca::Error::NotDemoCa { label: config.hsm.keys.ca.clone() }.into());
        }
        if demo_ca && !config.identity.mock {
            tracing::warn!(ca = %config.hsm.keys.ca, "the CA is a development CA (made by esignctl provision --dev); relying parties will not trust it");
        }
        let ca = Ca::new(inventory.ca_chain.clone(), policy);
        let timestamper = match &config.tsa.mode {
            TsaMode::Builtin => {
                if config.tsa.policy.to_string() == crate::config::DEFAULT_TSA_POLICY {
                    tracing::warn!(policy = %config.tsa.policy, "the built-in TSA uses the placeholder policy OID; set tsa.policy before production");
                }
                let tsa = BuiltinTsa::new(inventory.tsa_certificate.clone(), config.tsa.policy, config.tsa.accuracy)?;
                Timestamper::Builtin(Box::new(tsa))
            }
            TsaMode::External { urls, timeout, trust } => {
                Timestamper::External(TsaClient::new(urls.clone(), *timeout, trust.clone()))
            }
        };
        let pool = &config.hsm.key_pool;
        let key_pool = (pool.size > 0).then(|| {
            let keys = Arc::clone(&keys);
            (KeyPool::start(keys, config.hsm.ephemeral_key, pool.size, pool.refill_threads), pool.when_empty)
        });
        Ok(Self {
            hsm: AsyncKeys::new(keys, config.hsm.sessions, config.hsm.call_timeout),
            labels: config.hsm.keys.clone(),
            inventory: RwLock::new(Arc::new(inventory)),
            ca,
            timestamper,
            ephemeral: config.hsm.ephemeral_key,
            key_pool,
            tsa_probe: readiness::ProbeCache::default(),
        })
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// Where timestamps come from.
    pub fn timestamper(&self) -> &Timestamper {
        &self.timestamper
    }

    /// One line per persistent key for the start-up log: labels and fingerprints only.
    pub fn key_summary(&self) -> Vec<(String, String)> {
        self.inventory().summary()
    }

    /// A compact ES256 JWS over `payload`, signed by the service key in the HSM (session
    /// tokens, webhooks, `private_key_jwt` client assertions).
    ///
    /// # Errors
    /// HSM errors and deadlines.
    pub async fn sign_jws(self: &Arc<Self>, typ: &str, payload: Vec<u8>) -> Result<String, EngineError> {
        let service = Arc::clone(self);
        let typ = typ.to_owned();
        self.hsm
            .with_session(move |session| {
                let key = &service.inventory().service_key;
                let header = crate::jose::jws::Header {
                    alg: "ES256".into(),
                    kid: Some(service.service_key_id()),
                    typ: Some(typ),
                    ..Default::default()
                };
                crate::jose::jws::sign_es256(session, key, &header, &payload).map_err(|e| {
                    EngineError::Hsm(crate::hsm::Error::Malformed { what: "JWS signature", detail: e.to_string() })
                })
            })
            .await
    }

    /// The service key's JWK thumbprint (its `kid`).
    fn service_key_id(&self) -> String {
        crate::jose::jwk::Jwk::from_spki(&self.service_public_key(), "ES256")
            .and_then(|jwk| jwk.thumbprint())
            .unwrap_or_default()
    }

    /// The service key's public key (it signs session tokens and webhooks).
    pub fn service_public_key(&self) -> spki::SubjectPublicKeyInfoOwned {
        self.inventory().service_key.public_key().clone()
    }

    /// The key store.
    pub fn keys(&self) -> &Arc<K> {
        self.hsm.store()
    }

    /// How the one-time key pool stands; `None` without one.
    pub fn key_pool(&self) -> Option<KeyPoolUse> {
        self.key_pool.as_ref().map(|(pool, _)| pool.pool_use())
    }

    /// The key store for async callers (bounded by its sessions, with the per-call deadline).
    pub fn hsm(&self) -> &AsyncKeys<K> {
        &self.hsm
    }

    fn inventory(&self) -> Arc<Inventory<K::Session>> {
        Arc::clone(&self.inventory.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Look the persistent keys up again (after the token reported a stale handle).
    fn refresh_inventory(&self, session: &K::Session) -> Result<(), EngineError> {
        let fresh = preflight::check(session, &self.labels)?;
        *self.inventory.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// Read a DER TimeStampReq for the built-in TSA, before any HSM work: the query to stamp,
    /// or the DER TimeStampResp refusing it. `None` when timestamps come from external TSAs
    /// (and `POST /tsa` is not served).
    pub fn read_tsa_query(&self, request: &[u8]) -> Option<Result<TsaQuery, Vec<u8>>> {
        match &self.timestamper {
            Timestamper::Builtin(tsa) => Some(tsa.read_query(request)),
            Timestamper::External(_) => None,
        }
    }

    /// The built-in TSA's DER TimeStampResp to `query` (a token, or a rejection when the HSM
    /// could not sign).
    ///
    /// # Errors
    /// When no HSM session is available within the deadline.
    pub async fn respond_tsa(self: &Arc<Self>, query: TsaQuery) -> Result<Vec<u8>, EngineError> {
        let service = Arc::clone(self);
        self.hsm
            .with_session(move |session| {
                let Timestamper::Builtin(tsa) = &service.timestamper else {
                    unreachable!("only the built-in TSA reads queries (read_tsa_query)")
                };
                let inventory = service.inventory();
                Ok(tsa.answer(session, &inventory.tsa_key, query, std::time::SystemTime::now()))
            })
            .await
    }
}
