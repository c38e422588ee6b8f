//! The commands of `replayctl`: talk to the daemon, print, decide the exit
//! status.

use super::cli::{Action, Invocation};
use super::conn::{Answer, Conn, ConnError};
use super::overrides;
use super::render::{self, StepLog};
use super::time::Zone;
use super::tty::terminal_width;
use super::wait::{StartWait, Verdict};
use super::{now, EXIT_REFUSED, EXIT_UNREACHABLE};
use crate::protocol::{
    ApplyReply, ErrorBody, ErrorCode, Event, Job, JobStatus, Pong, Request, StartReply,
    StatusReply, StopReply, UpdateReply,
};
use serde::de::DeserializeOwned;
use std::io::{self, Write};
use std::time::Duration;

/// A local socket connects at once unless the daemon's backlog is full.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ping, status, subscribe and start answer without waiting for ffmpeg
/// (start is accepted before any clip work).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// stop waits for ffmpeg to be killed (kill_grace, 2 s by default) and for
/// the replay camera's rows and files to be deleted; an NVR's SQLite
/// database may be busy for a while.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// update and apply wait for the publisher: with the frigate publisher, one
/// request to Frigate per changed section, each up to its own timeout.
const TUNING_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a command did not finish with status 0.
#[derive(Debug)]
pub enum Failure {
    /// The daemon answered with an error.
    Refused(ErrorBody),
    /// The started job failed or was cancelled.
    Job(String),
    /// The daemon could not be reached or stopped answering.
    Unreachable(ConnError),
    /// The event stream broke while a start was being followed.
    Lost { job_id: String, source: ConnError },
    /// Our own output could not be written.
    Output(io::Error),
    /// Nothing to do, or the operator declined (exit 1, with the reason).
    NotDone(String),
}

impl From<ConnError> for Failure {
    fn from(e: ConnError) -> Self {
        Failure::Unreachable(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) | Failure::Job(_) | Failure::NotDone(_) => EXIT_REFUSED,
            Failure::Unreachable(_) | Failure::Lost { .. } => EXIT_UNREACHABLE,
            // The reader of our output went away (`replayctl watch | head`):
            // nothing failed that the caller asked about.
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
            Failure::Output(_) => EXIT_REFUSED,
        }
    }

    /// The line for stderr, if any.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            Failure::Refused(e) => format!("{}: {}", e.code, render::clean(&e.message, true)),
            Failure::Job(msg) | Failure::NotDone(msg) => render::clean(msg, true),
            Failure::Unreachable(e) => e.to_string(),
            Failure::Lost { job_id, source } => format!(
                "{source} while waiting for job {}; the replay may still be starting \
                 (see 'replayctl status')",
                render::clean(job_id, false)
            ),
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => return None,
            Failure::Output(e) => format!("cannot write output: {e}"),
        })
    }
}

pub fn execute(inv: &Invocation, zone: &dyn Zone) -> Result<(), Failure> {
    match &inv.action {
        Action::Ping => ping(inv),
        Action::Status => status(inv, zone),
        Action::Stop => stop(inv),
        Action::Watch => watch(inv, zone),
        Action::Set { request } => set(inv, request),
        Action::Diff => diff(inv),
        Action::Apply { sections, ask } => apply(inv, sections, *ask),
        Action::Start { request, wait } => {
            if *wait {
                start_and_wait(inv, request)
            } else {
                start(inv, request)
            }
        }
    }
}

fn connect(inv: &Invocation) -> Result<Conn, Failure> {
    Ok(Conn::connect(&inv.socket, CONNECT_TIMEOUT)?)
}

fn print_line(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// The success body of an answer; with `--json` the raw line is printed
/// first, whatever it says.
fn body(answer: Answer, json: bool) -> Result<serde_json::Value, Failure> {
    if json {
        print_line(&answer.line)?;
    }
    answer.result.map_err(Failure::Refused)
}

fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Failure> {
    serde_json::from_value(value)
        .map_err(|e| Failure::Unreachable(ConnError::BadResponse(e.to_string())))
}

/// A request on a fresh connection, answered within `timeout`.
fn call(inv: &Invocation, request: &Request, timeout: Duration) -> Result<Answer, Failure> {
    let mut conn = connect(inv)?;
    conn.set_timeout(Some(timeout))?;
    Ok(conn.call(request)?)
}

fn ping(inv: &Invocation) -> Result<(), Failure> {
    let value = body(call(inv, &Request::Ping, REQUEST_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let pong: Pong = decode(value)?;
        print_line(&render::pong_text(&pong))?;
    }
    Ok(())
}

fn status(inv: &Invocation, zone: &dyn Zone) -> Result<(), Failure> {
    let value = body(call(inv, &Request::Status, REQUEST_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let reply: StatusReply = decode(value)?;
        let text = render::status_text(&reply, now(), zone);
        print_line(text.trim_end())?;
    }
    Ok(())
}

fn stop(inv: &Invocation) -> Result<(), Failure> {
    let value = body(call(inv, &Request::Stop, STOP_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let reply: StopReply = decode(value)?;
        print_line(render::summary_text(&reply.summary).trim_end())?;
        for warning in &reply.warnings {
            print_line(&format!("warning: {}", render::clean(warning, false)))?;
        }
    }
    Ok(())
}

/// `set`: an update of the running replay camera.
fn set(inv: &Invocation, request: &Request) -> Result<(), Failure> {
    let value = body(call(inv, request, TUNING_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let reply: UpdateReply = decode(value)?;
        print_line(render::update_text(&reply).trim_end())?;
    }
    Ok(())
}

/// The session now, refused as `not_active` when there is none.
fn active_session(inv: &Invocation) -> Result<crate::protocol::SessionView, Failure> {
    let answer = call(inv, &Request::Status, REQUEST_TIMEOUT)?;
    let reply: StatusReply = decode(answer.result.map_err(Failure::Refused)?)?;
    if !reply.session.active {
        return Err(Failure::Refused(ErrorBody::new(
            ErrorCode::NotActive,
            "no replay session is active",
        )));
    }
    Ok(reply.session)
}

/// The camera the overrides would be pasted under.
fn source_of(session: &crate::protocol::SessionView) -> String {
    session
        .source_camera
        .clone()
        .unwrap_or_else(|| "SOURCE_CAMERA".into())
}

/// `diff`: the overrides as the YAML to paste under the source camera
/// (`--json`: the same object as JSON).
fn diff(inv: &Invocation) -> Result<(), Failure> {
    let session = active_session(inv)?;
    let source = source_of(&session);
    let Some(overrides) = session
        .overrides
        .as_ref()
        .filter(|o| !overrides::is_empty(Some(o)))
    else {
        // stdout stays empty: `replayctl diff > tuned.yml` holds no prose.
        eprintln_best_effort(&format!(
            "replayctl: the session has no overrides: {} runs {}'s own settings",
            render::clean(
                session
                    .replay_camera
                    .as_deref()
                    .unwrap_or("the replay camera"),
                false
            ),
            render::clean(&source, false)
        ));
        return Ok(());
    };
    if inv.json {
        let pasted = serde_json::json!({ "cameras": { source: overrides } });
        print_line(&pasted.to_string())?;
    } else {
        print_line(render::apply_preview(&source, overrides).trim_end())?;
    }
    Ok(())
}

/// Asks on the terminal; true for `y` or `yes`.
fn confirm(question: &str) -> Result<bool, Failure> {
    let mut err = io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    let answer = answer.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

/// `apply`: on a terminal first shows what would be written and asks.
fn apply(inv: &Invocation, sections: &[String], ask: bool) -> Result<(), Failure> {
    if ask {
        let session = active_session(inv)?;
        let source = source_of(&session);
        let chosen = session
            .overrides
            .as_ref()
            .map(|o| overrides::select(o, sections));
        let Some(chosen) = chosen.filter(|o| !overrides::is_empty(Some(o))) else {
            return Err(Failure::NotDone(if sections.is_empty() {
                "nothing to apply: the session has no overrides".into()
            } else {
                format!(
                    "nothing to apply: the session has no overrides in {}",
                    sections.join(", ")
                )
            }));
        };
        {
            let mut err = io::stderr().lock();
            writeln!(
                err,
                "{}",
                render::apply_preview(&source, &chosen).trim_end()
            )?;
        }
        let question = format!("Apply these to camera {}?", render::clean(&source, false));
        if !confirm(&question)? {
            return Err(Failure::NotDone("not applied".into()));
        }
    }
    let request = Request::Apply {
        sections: sections.to_vec(),
    };
    let value = body(call(inv, &request, TUNING_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let reply: ApplyReply = decode(value)?;
        print_line(render::apply_text(&reply).trim_end())?;
    }
    Ok(())
}

fn start(inv: &Invocation, request: &Request) -> Result<(), Failure> {
    let value = body(call(inv, request, REQUEST_TIMEOUT)?, inv.json)?;
    if !inv.json {
        let reply: StartReply = decode(value)?;
        print_line(&format!(
            "replay camera {} is starting (job {}); follow it with 'replayctl watch'",
            render::clean(&reply.replay_camera, false),
            render::clean(&reply.job_id, false)
        ))?;
    }
    Ok(())
}

/// Shows a job's progress: a redrawn bar on a terminal, otherwise a line per
/// step and per 10 %.
struct Progress<W: Write> {
    out: W,
    width: Option<usize>,
    drawn: bool,
    log: StepLog,
}

impl<W: Write> Progress<W> {
    fn new(out: W, width: Option<usize>) -> Self {
        Progress {
            out,
            // The last column is left free: writing into it makes some
            // terminals wrap, and `\r` then redraws on the wrong line.
            width: width.map(|w| w.saturating_sub(1)),
            drawn: false,
            log: StepLog::default(),
        }
    }

    /// Shows the state of a job under way (queued or running).
    fn show(&mut self, job: &Job, stamp: &str) -> io::Result<()> {
        match self.width {
            Some(width) => {
                write!(self.out, "\r{}\x1b[K", render::progress_bar(job, width))?;
                self.out.flush()?;
                self.drawn = true;
            }
            None => {
                if self.log.should_print(job) {
                    writeln!(self.out, "{stamp}job {}", render::job_summary(job))?;
                    self.out.flush()?;
                }
            }
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        if self.drawn {
            write!(self.out, "\r\x1b[K")?;
            self.out.flush()?;
            self.drawn = false;
        }
        Ok(())
    }
}

fn start_and_wait(inv: &Invocation, request: &Request) -> Result<(), Failure> {
    // Subscribe before sending start: the job's events are broadcast as they
    // happen and a subscription opened after the start's answer could miss
    // the publication of a replay that prepares quickly.
    let mut events = connect(inv)?;
    events.set_timeout(Some(REQUEST_TIMEOUT))?;
    events
        .call(&Request::Subscribe)?
        .result
        .map_err(Failure::Refused)?;

    let value = body(call(inv, request, REQUEST_TIMEOUT)?, inv.json)?;
    let reply: StartReply = decode(value)?;
    // Preparing a long clip takes minutes; the daemon's stall timeout, not
    // ours, decides when it is stuck.
    events.set_timeout(None)?;

    let stderr = io::stderr();
    let width = if inv.json {
        None
    } else {
        terminal_width(&stderr)
    };
    let mut progress = Progress::new(stderr.lock(), width);
    let mut wait = StartWait::new(&reply);
    loop {
        let line = match events.next_line() {
            Ok(line) => line,
            // An oversized event is skipped; the stream goes on after it.
            Err(ConnError::TooLong) => continue,
            Err(source) => {
                // Best effort: the error message follows on stderr anyway.
                let _ = progress.clear();
                return Err(Failure::Lost {
                    job_id: reply.job_id,
                    source,
                });
            }
        };
        // Event kinds added by a newer daemon are not ours to judge.
        let Ok(event) = serde_json::from_str::<Event>(&line) else {
            continue;
        };
        let verdict = wait.on_event(&event);
        if verdict == Verdict::Unrelated {
            continue;
        }
        if inv.json {
            print_line(&line)?;
        }
        match verdict {
            Verdict::Unrelated => {}
            Verdict::Progress => {
                if let (false, Some(job)) = (inv.json, wait.own_job(&event)) {
                    // Progress on stderr is decoration: a closed stderr must
                    // not abort the wait.
                    let _ = progress.show(job, "");
                }
            }
            Verdict::Ready => {
                let _ = progress.clear();
                if !inv.json {
                    print_line(&format!(
                        "replay camera {} is ready (job {})",
                        render::clean(&reply.replay_camera, false),
                        render::clean(&reply.job_id, false)
                    ))?;
                    if let Some(url) = view_url(inv, &reply.replay_camera) {
                        print_line(&format!("watch it at {}", render::clean(&url, false)))?;
                    }
                }
                return Ok(());
            }
            Verdict::Failed(message) => {
                let _ = progress.clear();
                return Err(Failure::Job(message));
            }
        }
    }
}

/// Where to watch the replay camera, from `status` (best effort: the start
/// succeeded whatever this says).
fn view_url(inv: &Invocation, replay_camera: &str) -> Option<String> {
    let answer = call(inv, &Request::Status, REQUEST_TIMEOUT).ok()?;
    let reply: StatusReply = serde_json::from_value(answer.result.ok()?).ok()?;
    let session = reply.session;
    if session.replay_camera.as_deref() != Some(replay_camera) {
        return None;
    }
    session.view_url
}

fn watch(inv: &Invocation, zone: &dyn Zone) -> Result<(), Failure> {
    let mut conn = connect(inv)?;
    conn.set_timeout(Some(REQUEST_TIMEOUT))?;
    conn.call(&Request::Subscribe)?
        .result
        .map_err(Failure::Refused)?;
    conn.set_timeout(None)?;

    let stdout = io::stdout();
    let width = if inv.json {
        None
    } else {
        terminal_width(&stdout)
    };
    let mut progress = Progress::new(stdout.lock(), width);
    loop {
        let line = match conn.next_line() {
            Ok(line) => line,
            Err(ConnError::TooLong) => {
                progress.clear()?;
                eprintln_best_effort("replayctl: skipped an event longer than 64 KiB");
                continue;
            }
            Err(e) => {
                progress.clear()?;
                return Err(e.into());
            }
        };
        if inv.json {
            writeln!(progress.out, "{line}")?;
            progress.out.flush()?;
            continue;
        }
        let stamp = format!("{} ", super::time::format_clock(now(), zone));
        let event = serde_json::from_str::<Event>(&line);
        if let Ok(Event::JobState { job }) = &event {
            if matches!(job.status, JobStatus::Queued | JobStatus::Running) {
                progress.show(job, &stamp)?;
                continue;
            }
        }
        progress.clear()?;
        let text = match &event {
            Ok(event) => render::event_line(event),
            Err(_) => render::clean(&line, false),
        };
        writeln!(progress.out, "{stamp}{text}")?;
        progress.out.flush()?;
    }
}

fn eprintln_best_effort(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}
