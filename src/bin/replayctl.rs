//! replayctl: the control client of replayd (see `replayd::client`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors and exits 2 itself; --help and --version exit 0.
    let cli = replayd::client::cli::Cli::parse();
    ExitCode::from(replayd::client::run(cli))
}
