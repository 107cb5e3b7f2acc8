//! What the in-process transaction benchmarks start from: a fresh SoftHSM token provisioned
//! for development (CA, TSA and service keys), a `SigningEngine` over a pool of 4 sessions, and
//! a raw cryptoki handle on the same token for the yardstick.
//! (Included with `#[path]`, next to `mod common`; a subfolder so cargo does not take it for a
//! benchmark.)

use std::sync::Arc;

use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;
use esignd::config::Config;
use esignd::hsm::KeyStore;
use esignd::hsm::pkcs11::{Pkcs11KeyStore, TokenSelector, context, token};
use esignd::provision::{DevPlan, provision_dev};
use esignd::service::engine::SigningEngine;

/// A provisioned token and the service on it.
pub struct Provisioned {
    /// The configuration naming the token and its keys.
    #[allow(dead_code)] // not every user reads it
    pub config: Config,
    /// The signing service.
    pub service: Arc<SigningEngine<Pkcs11KeyStore>>,
    /// cryptoki on the same module, for the raw cycle.
    pub ctx: Pkcs11,
    /// The token's slot.
    pub slot: Slot,
    _config_dir: tempfile::TempDir,
}

/// Make and provision a token, and start the service on it.
#[allow(dead_code)] // each benchmark uses one of the two
pub fn provisioned() -> Provisioned {
    provisioned_with("", "")
}

/// As [`provisioned`], with `hsm` added to `[hsm]` and `extra` after it.
pub fn provisioned_with(hsm: &str, extra: &str) -> Provisioned {
    let token = crate::common::new_token(4);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pin"), crate::common::USER_PIN).unwrap();
    let config_path = dir.path().join("esignd.toml");
    let config_text = format!(
        "[hsm]\nmodule = {:?}\ntoken_label = {:?}\npin_file = \"pin\"\nsessions = 4\n{hsm}\n{extra}",
        crate::common::module(),
        token.label
    );
    std::fs::write(&config_path, config_text).unwrap();
    let config = Config::load(Some(&config_path)).unwrap();
    provision_dev(&token.store.session().unwrap(), &config.hsm.keys, &DevPlan::default()).unwrap();
    let service = Arc::new(SigningEngine::new(Arc::new(token.store), &config).unwrap());
    let ctx = context::load(&crate::common::module()).unwrap();
    let (slot, _) = token::find(&ctx, &TokenSelector::Label(token.label.clone())).unwrap();
    Provisioned { config, service, ctx, slot, _config_dir: dir }
}
