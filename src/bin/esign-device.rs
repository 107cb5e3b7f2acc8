//! `esign-device`: see [`esignd::device_client`].

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = esignd::device_client::cli::Cli::parse();
    match esignd::device_client::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esign-device: {e}");
            ExitCode::FAILURE
        }
    }
}
