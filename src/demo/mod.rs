//! The demo profile (`[identity] mode = "mock"`, loopback only): a built-in mock ID provider
//! and a demo eService at `/demo`, so that a visitor can sign a file of their own in a browser
//! with nothing but esignd and its SoftHSM token. Neither exists in any other mode.

pub mod eservice;
pub mod mock_idp;

pub use crate::config::DEMO_CLIENT;
