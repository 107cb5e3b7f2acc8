//! `esignctl provision --dev`.

use clap::Args;

use super::{CtlError, open_token};
use crate::config::Config;
use crate::hsm::KeyStore;
use crate::provision::{DevPlan, Outcome, provision_dev};

#[derive(Debug, Args)]
pub(super) struct ProvisionArgs {
    /// Development provisioning: a self-signed root, TSA and service keys. Production tokens are
    /// provisioned step by step (ca create-root or ca csr + ca import, tsa provision, key generate).
    #[arg(long)]
    dev: bool,
    /// Subject of the development CA.
    #[arg(long)]
    ca_subject: Option<String>,
}

pub(super) fn run(config: &Config, args: ProvisionArgs) -> Result<(), CtlError> {
    if !args.dev {
        return Err(CtlError::Refused(
            "only `provision --dev` exists; a production token is provisioned with `ca create-root` \
             (or `ca csr` + `ca import`), `tsa provision` and `key generate`",
        ));
    }
    let mut plan = DevPlan { crl_url: super::crl_url(config), ..DevPlan::default() };
    if let Some(subject) = args.ca_subject {
        plan.ca_subject = subject;
    }
    let store = open_token(config)?;
    let session = store.session()?;
    let (report, inventory) = provision_dev(&session, &config.hsm.keys, &plan)?;
    for (label, outcome) in report {
        let verb = match outcome {
            Outcome::Created => "created",
            Outcome::Present => "present",
        };
        if outcome == Outcome::Created {
            super::record_change(config, "provisioned", &label, None);
        }
        println!("{verb:<8} {label}");
    }
    for (label, description) in inventory.summary() {
        println!("checked  {label}: {description}");
    }
    Ok(())
}
