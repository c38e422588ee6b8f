//! `replayctl`'s command line (SPEC §6) and its resolution into what to do.
//!
//! clap checks the shape and exits 2 on a usage error; [`resolve`] then
//! turns time arguments into Unix seconds against one "now", reporting bad
//! values through clap too, so that every usage error looks and exits alike.

use super::overrides::{self, parse_assignment, parse_reset_key};
use super::time::{parse_duration, parse_time, Zone};
use crate::config::ClipMode;
use crate::protocol::{Request, StartOptions};
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser, Subcommand};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const DEFAULT_SOCKET: &str = "/run/replayd/control.sock";

/// Consulted when `--socket` is not given.
pub const SOCKET_ENV: &str = "REPLAYD_SOCKET";

const AFTER_HELP: &str = "\
Exit status: 0 done, 1 the daemon refused (or the job failed, or apply was
declined), 2 usage error, 3 cannot reach the daemon.";

/// How `--set` and `--overrides` read (after the help of `start` and `set`).
macro_rules! overrides_help {
    () => {
        "\
KEY is a dotted path under one of the sections detect, objects, zones, motion,
lpr, face_recognition (motion.threshold, zones.yard.inertia,
objects.filters.person.min_area). VALUE is YAML: 25 is a number, true a bool,
0.1,0.2,0.3,0.4 a string, [person, car] a list, null removes the key.
An overrides FILE is a YAML mapping of those sections (or what 'replayctl diff'
printed); --set merges over it."
    };
}

/// One `--set KEY=VALUE`: the key's parts and the value as JSON.
pub type Assignment = (Vec<String>, Value);

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
        group(ArgGroup::new("source").required(true).args(["from", "last", "export", "file"])),
        after_help = concat!("\
Times: RFC 3339 (2026-11-24T10:00:00Z, 2026-11-24T11:00:00+01:00),
local 'YYYY-MM-DD HH:MM[:SS]', Unix seconds, 'now', or relative like -5m, -1h30m.
Durations: 90s, 5m, 1h30m.

", overrides_help!(), "

Ctrl-C stops waiting; the replay goes on (see 'replayctl stop').")
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
        /// Replay a video file with CAMERA's settings; PATH is relative to
        /// the daemon's import dir (session.import_dir), not to here
        #[arg(long, value_name = "PATH", conflicts_with_all = ["from", "to", "last", "export"])]
        file: Option<String>,
        /// Replay speed, 0.25 to 16 (detection sees X times the camera's frames per second)
        #[arg(long, value_name = "X", value_parser = parse_speed, allow_hyphen_values = true)]
        speed: Option<f64>,
        /// Override a setting of the source camera (repeatable; see below)
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_assignment)]
        set: Vec<Assignment>,
        /// Override settings from a YAML file (see below)
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// How the footage is prepared: auto, link or copy
        #[arg(long, value_name = "MODE", value_parser = parse_clip_mode)]
        clip_mode: Option<ClipMode>,
        /// Return once the daemon accepted the start
        #[arg(long)]
        no_wait: bool,
    },
    /// Change settings of the running replay camera live
    #[command(
        group(ArgGroup::new("change").required(true).multiple(true).args(["assignments", "overrides", "reset"])),
        after_help = overrides_help!()
    )]
    Set {
        /// Settings to change
        #[arg(value_name = "KEY=VALUE", value_parser = parse_assignment)]
        assignments: Vec<Assignment>,
        /// Settings to change, from a YAML file
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Return KEYs to the source camera's values ('*': all of them)
        #[arg(long, value_name = "KEY", num_args = 1.., value_parser = parse_reset_key)]
        reset: Vec<String>,
    },
    /// Print the session's overrides as the YAML to paste under the source camera
    Diff,
    /// Write the session's overrides into the source camera (asks first)
    Apply {
        /// Sections to apply (default: every section the overrides touch)
        #[arg(value_name = "SECTION", value_parser = parse_section)]
        sections: Vec<String>,
        /// Do not ask (needed when not on a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
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
    Start {
        request: Request,
        wait: bool,
    },
    /// `set`: an `update` request.
    Set {
        request: Request,
    },
    Diff,
    /// `apply`: `ask` shows what would be written and asks first.
    Apply {
        sections: Vec<String>,
        ask: bool,
    },
    Stop,
    Watch,
    Ping,
}

/// What resolving a command line reads besides the arguments.
pub struct Env<'a> {
    /// `$REPLAYD_SOCKET`.
    pub socket: Option<OsString>,
    /// Unix seconds, for relative times.
    pub now: f64,
    pub zone: &'a dyn Zone,
    /// Whether stdin is a terminal that `apply` can ask on.
    pub terminal: bool,
    /// Reads an overrides file (at most [`overrides::MAX_FILE`] bytes).
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
}

/// A usage error about `sub`'s values, with its usage line.
fn usage_in(sub: &str, message: impl std::fmt::Display) -> clap::Error {
    let mut cmd = Cli::command();
    // Building fills in the subcommand's full name ("replayctl start").
    cmd.build();
    match cmd.find_subcommand_mut(sub) {
        Some(sub) => sub.error(ErrorKind::ValueValidation, message),
        None => cmd.error(ErrorKind::ValueValidation, message),
    }
}

/// A usage error about `start`'s values, with `start`'s usage line.
fn usage(message: impl std::fmt::Display) -> clap::Error {
    usage_in("start", message)
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    crate::replay::overrides::check_speed(speed)?;
    Ok(speed)
}

fn parse_clip_mode(text: &str) -> Result<ClipMode, String> {
    text.parse()
}

fn parse_section(text: &str) -> Result<String, String> {
    let sections = crate::replay::overrides::SECTIONS;
    if sections.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!("one of {}", sections.join(", ")))
    }
}

/// The overrides of a command line: `--overrides FILE` read and parsed,
/// the `--set`s merged over it.
fn overrides_of(
    sub: &str,
    file: Option<&Path>,
    assignments: &[Assignment],
    env: &Env<'_>,
) -> Result<Option<Value>, clap::Error> {
    let from_file = match file {
        None => None,
        Some(path) => {
            let shown = path.display();
            let bytes = (env.read_file)(path)
                .map_err(|e| usage_in(sub, format!("cannot read overrides file {shown}: {e}")))?;
            if bytes.len() > overrides::MAX_FILE {
                return Err(usage_in(
                    sub,
                    format!(
                        "overrides file {shown} is larger than a request may be ({} KiB)",
                        overrides::MAX_FILE / 1024
                    ),
                ));
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| usage_in(sub, format!("overrides file {shown} is not UTF-8")))?;
            let value = overrides::parse_file(&text)
                .map_err(|e| usage_in(sub, format!("overrides file {shown}: {e}")))?;
            Some(value)
        }
    };
    Ok(overrides::build(from_file, assignments))
}

/// Resolves parsed arguments. The error is a usage error (`exit()` prints
/// it and exits 2).
pub fn resolve(cli: Cli, env: &Env<'_>) -> Result<Invocation, clap::Error> {
    let (now, zone) = (env.now, env.zone);
    let socket = cli
        .socket
        .or_else(|| {
            env.socket
                .clone()
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let action = match cli.command {
        Command::Status => Action::Status,
        Command::Stop => Action::Stop,
        Command::Watch => Action::Watch,
        Command::Ping => Action::Ping,
        Command::Diff => Action::Diff,
        Command::Set {
            assignments,
            overrides,
            reset,
        } => {
            let overrides = overrides_of("set", overrides.as_deref(), &assignments, env)?;
            if overrides.is_none() && reset.is_empty() {
                return Err(usage_in(
                    "set",
                    "nothing to change (the overrides file is empty)",
                ));
            }
            Action::Set {
                request: Request::Update { overrides, reset },
            }
        }
        Command::Apply { sections, yes } => {
            if !yes && !env.terminal {
                return Err(usage_in(
                    "apply",
                    "apply writes into the source camera's settings and asks first, \
                     but stdin is not a terminal: pass --yes",
                ));
            }
            let mut unique: Vec<String> = Vec::new();
            for section in sections {
                if !unique.contains(&section) {
                    unique.push(section);
                }
            }
            Action::Apply {
                sections: unique,
                ask: !yes,
            }
        }
        Command::Start {
            camera,
            from,
            to,
            last,
            export,
            file,
            speed,
            set,
            overrides,
            clip_mode,
            no_wait,
        } => {
            let options = StartOptions {
                speed,
                overrides: overrides_of("start", overrides.as_deref(), &set, env)?,
                clip_mode,
            };
            let request = match (camera, export, file) {
                (_, Some(export_id), _) => Request::StartFromExport { export_id, options },
                (Some(camera), None, Some(path)) => {
                    if path.is_empty() || path.starts_with('/') {
                        return Err(usage(
                            "--file takes a path relative to the daemon's import dir \
                             (session.import_dir)",
                        ));
                    }
                    Request::StartFromFile {
                        camera,
                        path,
                        options,
                    }
                }
                (Some(camera), None, None) => {
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
                        options,
                    }
                }
                (None, None, _) => return Err(usage("a camera or --export is required")),
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
