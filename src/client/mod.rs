//! `replayctl`, the control client: command line, connection, waiting for a
//! start, and what is printed for a person.
//!
//! The pure parts — [`time`] (parsing and formatting with an injected clock
//! and zone), [`overrides`], [`render`], [`wait`] and [`cli`] — are unit-tested; [`conn`],
//! [`zone`], [`tty`] and [`commands`] do the IO.
//!
//! Exit status (SPEC §6), also in `replayctl --help`:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | done (also when the reader of our output went away, e.g. `| head`) |
//! | 1 | the daemon refused (its error code and message on stderr), the started job failed or was cancelled, `diff` found no session, or `apply` was declined |
//! | 2 | usage error: bad arguments, a time or duration that does not parse, an empty range, a bad `--set` or overrides file, `apply` without a terminal and without `--yes` |
//! | 3 | cannot reach the daemon: connect failed, no answer in time, connection lost or a malformed answer |

pub mod cli;
pub mod commands;
pub mod conn;
pub mod overrides;
pub mod render;
pub mod time;
pub mod tty;
pub mod wait;
pub mod zone;

pub const EXIT_OK: u8 = 0;
pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// Unix seconds now, from the wall clock: the daemon speaks wall-clock
/// times, so relative arguments must resolve against the same clock.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reads a file, at most one byte more than an overrides file may hold (so
/// that a larger one is told apart without reading all of it).
fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(overrides::MAX_FILE as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Runs one parsed command line; returns the exit status.
pub fn run(cli: cli::Cli) -> u8 {
    use std::io::IsTerminal as _;
    let zone = zone::SystemZone;
    let env = cli::Env {
        socket: std::env::var_os(cli::SOCKET_ENV),
        now: now(),
        zone: &zone,
        terminal: std::io::stdin().is_terminal(),
        read_file: &read_capped,
    };
    let invocation = match cli::resolve(cli, &env) {
        Ok(invocation) => invocation,
        Err(usage) => {
            // Best effort: the exit status says it all if stderr is gone.
            let _ = usage.print();
            return u8::try_from(usage.exit_code()).unwrap_or(EXIT_USAGE);
        }
    };
    match commands::execute(&invocation, &zone) {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            if let Some(message) = failure.message() {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "replayctl: {message}");
            }
            failure.exit_code()
        }
    }
}
