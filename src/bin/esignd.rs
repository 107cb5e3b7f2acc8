//! `esignd`: parse arguments, load the configuration (exit 64 on a bad one, before any port is
//! bound), set up logging, and hand over to [`esignd::app`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use esignd::config::Config;

/// The esignd signing daemon.
#[derive(Debug, Parser)]
#[command(name = "esignd", version, about = "HSM-centric eSignature daemon")]
struct Cli {
    /// Configuration file; defaults to $ESIGND_CONFIG, then built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration and exit: 0 when usable, 64 with the reason otherwise.
    #[arg(long)]
    check_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("esignd: {e}");
            return ExitCode::from(64);
        }
    };
    if cli.check_config {
        return match esignd::app::check_config(&config) {
            Ok(()) => {
                println!(
                    "esignd: configuration OK ({})",
                    config.file.as_deref().map_or("built-in defaults".into(), |p| p.display().to_string())
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("esignd: {e}");
                ExitCode::from(64)
            }
        };
    }
    let (Some(Command::Serve) | None) = cli.command;
    esignd::logging::init(&config.log);
    match esignd::app::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "esignd stopped");
            eprintln!("esignd: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
