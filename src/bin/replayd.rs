//! replayd: the debug replay daemon. Runs in the foreground under systemd.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use replayd::daemon::{self, Options, EXIT_CONFIG};

/// EX_USAGE-style status for a bad command line (clap's convention, as replayctl).
const EXIT_USAGE: u8 = 2;

const USAGE: &str = "usage: replayd [--config PATH] [--check-config] [--version]

Debug replay sessions for a Frigate-compatible NVR. Runs in the foreground.

  --config PATH    replayd.toml to read (default /etc/replayd/replayd.toml;
                   a missing default file means the built-in defaults)
  --check-config   load replayd.toml and the NVR config, print what was
                   found, and exit (0, or 78 with the error)
  --version        print the version and exit
  --help           print this help and exit
";

#[derive(Debug, Default, PartialEq)]
struct Args {
    config: Option<PathBuf>,
    check_config: bool,
}

#[derive(Debug, PartialEq)]
enum Command {
    Run(Args),
    Version,
    Help,
}

/// The command line, parsed by hand: three flags do not justify mapping a
/// CLI library into a daemon that should stay small in memory.
fn parse_args(mut args: impl Iterator<Item = OsString>) -> Result<Command, String> {
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        match text.as_ref() {
            "--version" | "-V" => return Ok(Command::Version),
            "--help" | "-h" => return Ok(Command::Help),
            "--check-config" => parsed.check_config = true,
            "--config" => {
                let path = args.next().ok_or("--config needs a PATH")?;
                parsed.config = Some(PathBuf::from(path));
            }
            other => match other.strip_prefix("--config=") {
                Some(path) if !path.is_empty() => parsed.config = Some(PathBuf::from(path)),
                _ => return Err(format!("unexpected argument '{other}'")),
            },
        }
    }
    Ok(Command::Run(parsed))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Version) => {
            println!("replayd {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("replayd: {message}\n\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
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
    // Every name rule of the process follows session.camera_prefix.
    replayd::replay::names::set_prefix(&loaded.config.session.camera_prefix);
    if args.check_config {
        // What was read, then what a start would need; each problem names
        // the key to change.
        let report = daemon::check(&loaded);
        let described = daemon::describe(&loaded);
        if report.problems.is_empty() {
            print!("{described}");
        } else {
            print!("{}", described.replacen("config ok\n", "", 1));
        }
        for line in &report.found {
            println!("{line}");
        }
        if report.problems.is_empty() {
            return ExitCode::SUCCESS;
        }
        for problem in &report.problems {
            eprintln!("replayd: check failed: {problem}");
        }
        return ExitCode::from(EXIT_CONFIG as u8);
    }
    replayd::log::init(loaded.config.log.target, loaded.config.log.level);
    let options = Options {
        config: args.config,
    };
    ExitCode::from(daemon::run(options, loaded) as u8)
}

#[cfg(test)]
#[path = "replayd/tests.rs"]
mod tests;
