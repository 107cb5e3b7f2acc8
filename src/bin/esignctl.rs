//! `esignctl`: see [`esignd::ctl`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = esignd::ctl::Cli::parse();
    match esignd::ctl::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esignctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
