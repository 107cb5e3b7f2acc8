//! `esign`: see [`esignd::client`].

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = esignd::client::cli::Cli::parse();
    match esignd::client::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esign: {e}");
            ExitCode::FAILURE
        }
    }
}
