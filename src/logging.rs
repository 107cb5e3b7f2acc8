//! Log output: `tracing` with a human format for terminals and one JSON object per line for
//! services (`[log] format`). Nothing esignd logs carries a PIN, a key, a token, a user
//! attribute, a signature value or a whole certificate: thumbprints and serials only.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Install the global subscriber. Logs go to stderr (journald picks them up under systemd).
pub fn init(config: &LogConfig) {
    // validate() already parsed the directive, so this cannot fail for a loaded config.
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !terminal,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(terminal);
    // A second init (tests, or esignctl calling into daemon code) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
