//! esignd: an HSM-centric eSignature daemon.
//!
//! The module tree follows a request's path (see `DESIGN.md` §2): [`http`] decodes and answers,
//! the service layer orchestrates, and [`hsm`] is the one seam to the hardware. [`config`] turns
//! the operator's file and environment into typed settings; [`ctl`] is the security officer's
//! tool `esignctl`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod audit;
pub mod ca;
pub mod client;
pub mod cms;
pub mod config;
pub mod ctl;
pub mod demo;
pub mod device_client;
pub mod hsm;
pub mod http;
pub mod identity;
pub mod ids;
pub mod jose;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod pki;
pub mod preflight;
pub mod provision;
pub mod service;
pub mod store;
pub mod tsa;
pub mod vocabulary;
