//! replayd: the debug replay daemon. Runs in the foreground under systemd.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use replayd::daemon::{self, Options, EXIT_CONFIG};

/// Debug replay sessions for a Frigate-compatible NVR.
#[derive(Parser, Debug)]
#[command(name = "replayd", version, about)]
struct Args {
    /// replayd.toml to read (default /etc/replayd/replayd.toml; missing = built-in defaults)
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Load replayd.toml and the NVR config, print what was found, and exit
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match daemon::load_configs(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(message) => {
            // Logging is not set up yet; under systemd the prefix makes the
            // journal file this at priority err, where `-p warning` finds it.
            let priority = if replayd::log::stderr_is_journal() {
                "<3>"
            } else {
                ""
            };
            eprintln!("{priority}replayd: configuration error: {message}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    if args.check_config {
        print!("{}", daemon::describe(&loaded));
        return ExitCode::SUCCESS;
    }
    replayd::log::init(loaded.config.log.target, loaded.config.log.level);
    let options = Options {
        config: args.config,
        check_config: false,
    };
    ExitCode::from(daemon::run(options, loaded) as u8)
}
