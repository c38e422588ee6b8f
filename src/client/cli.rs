//! `replayctl`'s command line (SPEC §6) and its resolution into what to do.
//!
//! clap checks the shape and exits 2 on a usage error; [`resolve`] then
//! turns time arguments into Unix seconds against one "now", reporting bad
//! values through clap too, so that every usage error looks and exits alike.

use super::time::{parse_duration, parse_time, Zone};
use crate::protocol::Request;
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

pub const DEFAULT_SOCKET: &str = "/run/replayd/control.sock";

/// Consulted when `--socket` is not given.
pub const SOCKET_ENV: &str = "REPLAYD_SOCKET";

const AFTER_HELP: &str = "\
Exit status: 0 done, 1 the daemon refused (or the job failed), 2 usage error,
3 cannot reach the daemon.";

/// Control client of replayd, the NVR debug replay daemon.
#[derive(Debug, Parser)]
#[command(name = "replayctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Control socket [env: REPLAYD_SOCKET] [default: /run/replayd/control.sock]
    #[arg(long, value_name = "PATH", global = true)]
    pub socket: Option<PathBuf>,

    /// Print the daemon's JSON (responses, event lines) instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the session, the job and the last replay's summary
    Status,
    /// Start a replay session and wait until its camera is published
    #[command(
        group(ArgGroup::new("source").required(true).args(["from", "last", "export"])),
        after_help = "\
Times: RFC 3339 (2026-11-24T10:00:00Z, 2026-11-24T11:00:00+01:00),
local 'YYYY-MM-DD HH:MM[:SS]', Unix seconds, 'now', or relative like -5m, -1h30m.
Durations: 90s, 5m, 1h30m.

Ctrl-C stops waiting; the replay goes on (see 'replayctl stop')."
    )]
    Start {
        /// Source camera (as named in the NVR config)
        #[arg(required_unless_present = "export")]
        camera: Option<String>,
        /// Start of the range to replay
        #[arg(long, value_name = "T", requires = "to", allow_hyphen_values = true)]
        from: Option<String>,
        /// End of the range to replay
        #[arg(long, value_name = "T", requires = "from", allow_hyphen_values = true)]
        to: Option<String>,
        /// Replay the last DUR up to now (e.g. 5m)
        #[arg(long, value_name = "DUR")]
        last: Option<String>,
        /// Replay an export instead of a range of recordings
        #[arg(long, value_name = "ID", conflicts_with = "camera")]
        export: Option<String>,
        /// Return once the daemon accepted the start
        #[arg(long)]
        no_wait: bool,
    },
    /// Stop the session, wait for its cleanup and print its summary
    Stop,
    /// Print events as they come
    Watch,
    /// Print the daemon's version and protocol
    Ping,
}

/// What to do, every argument checked and resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub socket: PathBuf,
    pub json: bool,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Status,
    Start { request: Request, wait: bool },
    Stop,
    Watch,
    Ping,
}

/// A usage error about `start`'s values, with `start`'s usage line.
fn usage(message: impl std::fmt::Display) -> clap::Error {
    let mut cmd = Cli::command();
    // Building fills in the subcommand's full name ("replayctl start").
    cmd.build();
    match cmd.find_subcommand_mut("start") {
        Some(start) => start.error(ErrorKind::ValueValidation, message),
        None => cmd.error(ErrorKind::ValueValidation, message),
    }
}

/// Resolves parsed arguments; `env_socket` is `$REPLAYD_SOCKET`, `now` Unix
/// seconds. The error is a usage error (`exit()` prints it and exits 2).
pub fn resolve(
    cli: Cli,
    env_socket: Option<OsString>,
    now: f64,
    zone: &dyn Zone,
) -> Result<Invocation, clap::Error> {
    let socket = cli
        .socket
        .or_else(|| env_socket.filter(|s| !s.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let action = match cli.command {
        Command::Status => Action::Status,
        Command::Stop => Action::Stop,
        Command::Watch => Action::Watch,
        Command::Ping => Action::Ping,
        Command::Start {
            camera,
            from,
            to,
            last,
            export,
            no_wait,
        } => {
            let request = match (camera, export) {
                (_, Some(export_id)) => Request::StartFromExport {
                    export_id,
                    options: Default::default(),
                },
                (Some(camera), None) => {
                    let (start_time, end_time) = match (from, to, last) {
                        (Some(from), Some(to), None) => {
                            let start = parse_time(&from, now, zone).map_err(usage)?;
                            let end = parse_time(&to, now, zone).map_err(usage)?;
                            (start, end)
                        }
                        (None, None, Some(last)) => {
                            let span = parse_duration(&last).map_err(usage)?;
                            (now - span, now)
                        }
                        // clap's groups make these unreachable; a usage error
                        // keeps it that way should the attributes drift.
                        _ => return Err(usage("give --from and --to, or --last, or --export")),
                    };
                    if end_time <= start_time {
                        return Err(usage(
                            "the start of the range (--from) must be before its end (--to)",
                        ));
                    }
                    Request::Start {
                        camera,
                        start_time,
                        end_time,
                        options: Default::default(),
                    }
                }
                (None, None) => return Err(usage("a camera or --export is required")),
            };
            Action::Start {
                request,
                wait: !no_wait,
            }
        }
    };
    Ok(Invocation {
        socket,
        json: cli.json,
        action,
    })
}

#[cfg(test)]
mod tests;
