//! The session lifecycle (SPEC §2) as one pure state machine.
//!
//! [`Lifecycle::handle`] takes one [`Input`] — a request, what a child
//! process did, what the shell found out or did for it, the timer, the state
//! a dead daemon left — and returns the [`Action`]s the daemon's IO shell
//! must carry out, in order. Nothing here reads a clock, a file or a process:
//! `now` comes in with every input. Each SPEC behaviour is a transition
//! below, named after it (start, accept, cut, measure, publish, fail, stop,
//! auto-stop, recover) and unit-tested against the machine alone.
//!
//! `session.json` follows from the phase: whenever what must be persisted
//! changed, a [`Action::Persist`] goes out before the next effect, so no
//! transition can forget it.

use std::fmt;

use crate::nvr::db::Export;
use crate::protocol::{
    ApplyReply, CameraAction, Event, Job, JobStatus, SessionState, SessionView, StartOptions,
    StartReply, StopReply, Summary, UpdateReply,
};
use crate::replay::clip::{self, ClipPlan, ProgressUpdate};
use crate::replay::errors::RequestError;
use crate::replay::link::{self, Mode, ModeChoice};
use crate::replay::names;
use crate::replay::overrides;
use crate::replay::session::{
    self, ChildRecord, ClipSource, PersistedSession, ProgressThrottle, Session, Tuning,
};

/// A file of the import dir that a `start_from_file` names, as the shell
/// found it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedFile {
    /// The camera whose settings it is replayed with.
    pub camera: String,
    /// Its path relative to the import dir, as the request gave it.
    pub name: String,
    /// This host's path, inside the import dir.
    pub path: std::path::PathBuf,
}

/// A source whose duration ffprobe measures before the start is accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum Probed {
    Export(Export),
    File(ImportedFile),
}

impl Probed {
    fn describe(&self) -> String {
        match self {
            Probed::Export(export) => format!("export '{}'", export.id),
            Probed::File(file) => format!("file '{}'", file.name),
        }
    }
}

/// A control connection, as the shell numbers them.
pub type ClientId = u64;

/// Both clocks at the moment an input arrives: the wall clock for what people
/// read, the boot-time clock (immune to wall-clock jumps, counting suspend)
/// for every deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    pub wall: f64,
    pub boot: f64,
}

/// The settings the lifecycle decides by, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub max_duration: f64,
    pub max_range: f64,
    pub stall_timeout: f64,
    pub kill_grace: f64,
    /// One request to the NVR (`publish.frigate.timeout`).
    pub nvr_timeout: f64,
}

/// What a start from recordings needs once the shell has checked the
/// camera, the database, the segment files and the free space.
#[derive(Debug, Clone, PartialEq)]
pub struct StartPlan {
    pub camera: String,
    pub start: f64,
    pub end: f64,
    pub source: ClipSource,
    pub plan: ClipPlan,
    /// Skipped segments and the like, shown in status.
    pub warnings: Vec<String>,
    /// Speed, overrides and clip mode as the request gave them (checked).
    pub options: StartOptions,
    /// The clip mode the shell chose from the request, the config and
    /// what the kernel permits (SPEC §2 "clip modes").
    pub clip_mode: ModeChoice,
}

/// What the NVR told before a start (nothing, with the file publisher).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NvrFacts {
    /// The detect size the running NVR uses for the source camera.
    pub detect_size: Option<(u32, u32)>,
}

/// How the NVR confirmed a removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It had the camera and removed it.
    Removed,
    /// It did not have the camera (any more, or yet).
    Absent,
}

/// A replay camera whose removal from the NVR is still owed.
#[derive(Debug, Clone, PartialEq)]
struct PendingRemoval {
    replay: String,
    /// Boot time of the next try.
    next_at: f64,
    /// Seconds to wait after the next failure: 1 s, doubling, at most 60 s.
    backoff: f64,
    in_flight: bool,
    /// Its rows and files go once the NVR confirmed (boot cleanup: the NVR
    /// may still be running it); a stop has cleaned them already.
    clean_after: bool,
    /// Boot time before which "the NVR does not have it" is not final: an
    /// add whose outcome is unknown may still be applied after it timed out.
    absent_final_at: f64,
}

/// The first retry of a removal, and the longest wait between two.
const RETRY_FIRST: f64 = 1.0;
const RETRY_MAX: f64 = 60.0;

/// How a child process ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChildExit {
    pub success: bool,
    /// `exit status 1`, `killed by signal 9`.
    pub status: String,
    /// What it printed (ffprobe's answer), bounded by the shell.
    pub stdout: Vec<u8>,
    /// Its last stderr lines.
    pub stderr_tail: String,
}

/// What the state file held at start-up, and what the shell found of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovered {
    /// No state file, or one with no session in it.
    Nothing,
    /// Written during an earlier boot: nothing of it is alive.
    OtherBoot,
    /// Unreadable (the shell says which file and why); kept aside.
    Corrupt(String),
    Session {
        saved: Box<PersistedSession>,
        /// Whether the session's clip is still a file (copy mode), or its
        /// playlist and every link it names (link mode).
        clip_exists: bool,
    },
}

/// Why a clip job failed. Every failure says what went wrong; ffmpeg's and
/// ffprobe's last stderr lines ride along where they exist.
#[derive(Debug, Clone, PartialEq)]
pub enum JobFailure {
    NoUsableSegments,
    /// The shell could not prepare or start the step (concat list, spawn,
    /// moving the clip, writing the camera file): its own message.
    Io(String),
    InvalidCamera(String),
    Stalled {
        program: &'static str,
        secs: f64,
        stderr: String,
    },
    FfmpegFailed {
        status: String,
        stderr: String,
    },
    ClipUnreadable {
        status: String,
        stderr: String,
    },
    Truncated {
        duration: f64,
        expected: f64,
        segment: String,
    },
    Replan(String),
    /// `clip_mode = link` was asked for and a link was refused.
    Link(String),
    InterruptedTwice,
    /// The NVR refused the camera or could not be reached: its message.
    Nvr(String),
    /// The add went out and no answer came: it may have been applied, so it
    /// is removed like a published camera.
    NvrUnknown(String),
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_stderr = |f: &mut fmt::Formatter<'_>, stderr: &str| {
            if stderr.is_empty() {
                Ok(())
            } else {
                write!(f, ": {stderr}")
            }
        };
        match self {
            JobFailure::NoUsableSegments => {
                f.write_str("none of the recordings in the range could be read")
            }
            JobFailure::Io(message) => f.write_str(message),
            JobFailure::InvalidCamera(message) => {
                write!(f, "the replay camera config is invalid: {message}")
            }
            JobFailure::Stalled {
                program,
                secs,
                stderr,
            } => {
                if *program == "ffmpeg" {
                    write!(f, "ffmpeg made no progress for {secs}s")?;
                } else {
                    write!(f, "{program} did not finish in {secs}s")?;
                }
                with_stderr(f, stderr)
            }
            JobFailure::FfmpegFailed { status, stderr } => {
                write!(f, "ffmpeg failed ({status})")?;
                with_stderr(f, stderr)
            }
            JobFailure::ClipUnreadable { status, stderr } => {
                write!(f, "the clip is unreadable ({status})")?;
                with_stderr(f, stderr)
            }
            JobFailure::Truncated {
                duration,
                expected,
                segment,
            } => write!(
                f,
                "the clip ends at {duration:.1}s of {expected:.1}s: segment {segment} is unreadable"
            ),
            JobFailure::Replan(message) => write!(f, "cannot restart the clip job: {message}"),
            JobFailure::Link(message) => write!(f, "cannot link the footage: {message}"),
            JobFailure::InterruptedTwice => {
                f.write_str("the daemon was interrupted twice while preparing the clip")
            }
            JobFailure::Nvr(message) => write!(f, "the NVR did not take the camera: {message}"),
            JobFailure::NvrUnknown(message) => write!(
                f,
                "the NVR did not answer the add ({message}); the camera is removed in case it arrived"
            ),
        }
    }
}

/// The reply a request gets, typed until the shell encodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Started(StartReply),
    Stopped(StopReply),
    Updated(UpdateReply),
    Applied(ApplyReply),
    Refused(RequestErrorKind),
}

/// A live update the publisher carried out: the session's overrides now,
/// and the replay camera's sections that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDone {
    pub overrides: Option<serde_json::Value>,
    pub changed: Vec<String>,
}

/// An `update` as the shell carries it out ([`Action::PublishUpdate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub client: ClientId,
    pub source: String,
    pub replay: String,
    /// What the replay camera plays: the clip or the playlist.
    pub mode: Mode,
    pub detect_size: Option<(u32, u32)>,
    /// The session's speed and overrides before this update.
    pub tuning: Tuning,
    pub overrides: Option<serde_json::Value>,
    pub reset: Vec<String>,
}

/// A refusal as the machine decides it; `RequestError` itself is not `Clone`
/// (it may carry an io::Error), so the machine's own refusals are kept apart
/// from the ones the shell hands back.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestErrorKind {
    InvalidParams(String),
    AlreadyActive(String),
    NotActive,
    /// A session exists but cannot take this request in its state.
    NotReady(String),
    /// A refusal the shell found and the machine passes on, already encoded.
    Shell(crate::protocol::ErrorBody),
}

impl RequestErrorKind {
    fn from_error(error: &RequestError) -> RequestErrorKind {
        RequestErrorKind::Shell(crate::replay::errors::error_body(error))
    }

    /// The message as the journal should read it.
    pub fn message(&self) -> String {
        match self {
            RequestErrorKind::InvalidParams(m) => m.clone(),
            RequestErrorKind::AlreadyActive(m) => {
                format!("a replay session is already active ({m})")
            }
            RequestErrorKind::NotActive => "no replay session is active".to_string(),
            RequestErrorKind::NotReady(m) => m.clone(),
            RequestErrorKind::Shell(body) => body.message.clone(),
        }
    }

    /// The wire form: refusals the machine makes go through the same
    /// mapping as every other request error.
    pub fn body(&self) -> crate::protocol::ErrorBody {
        use crate::replay::errors::error_body;
        match self {
            RequestErrorKind::InvalidParams(m) => {
                error_body(&RequestError::InvalidParams(m.clone()))
            }
            RequestErrorKind::AlreadyActive(m) => {
                error_body(&RequestError::AlreadyActive(m.clone()))
            }
            RequestErrorKind::NotActive => error_body(&RequestError::NotActive),
            RequestErrorKind::NotReady(m) => {
                crate::protocol::ErrorBody::new(crate::protocol::ErrorCode::NotActive, m.clone())
            }
            RequestErrorKind::Shell(body) => body.clone(),
        }
    }
}

/// Everything that moves the lifecycle.
#[derive(Debug)]
pub enum Input {
    /// `start` (admin already checked by the shell).
    Start {
        client: ClientId,
        camera: String,
        start_time: f64,
        end_time: f64,
        options: StartOptions,
    },
    /// The shell's checks of a start ([`Action::CheckStart`]).
    StartChecked {
        client: ClientId,
        result: Result<StartPlan, RequestError>,
    },
    /// `start_from_export`.
    StartFromExport {
        client: ClientId,
        export_id: String,
        options: StartOptions,
    },
    /// `start_from_file`: `path` relative to the import dir.
    StartFromFile {
        client: ClientId,
        camera: String,
        path: String,
        options: StartOptions,
    },
    /// The export passed the shell's checks and ffprobe measures it.
    ExportProbeStarted {
        export: Export,
        /// The clip mode chosen for it.
        clip_mode: ModeChoice,
    },
    /// The imported file passed the shell's checks and ffprobe measures it.
    FileProbeStarted {
        file: ImportedFile,
        /// The clip mode chosen for it.
        clip_mode: ModeChoice,
    },
    /// The export (or imported file) cannot be replayed
    /// ([`Action::CheckExport`], [`Action::CheckFile`]).
    ExportRefused {
        error: RequestError,
    },
    /// The NVR's answers before a start ([`Action::CheckNvr`]).
    NvrChecked {
        client: ClientId,
        result: Result<NvrFacts, RequestError>,
    },
    /// [`Action::Unpublish`] done (or failed: the NVR could not be reached).
    Unpublished {
        replay: String,
        result: Result<Removal, String>,
    },
    /// Boot cleanup is done locally; these cameras still have to be removed
    /// from the NVR before their files go.
    BootCleaned {
        owed: Vec<String>,
    },
    /// `stop` from a client.
    Stop {
        client: ClientId,
    },
    /// `update` of a ready session (admin already checked by the shell).
    Update {
        client: ClientId,
        overrides: Option<serde_json::Value>,
        reset: Vec<String>,
    },
    /// [`Action::PublishUpdate`] done, or refused with nothing changed.
    UpdatePublished {
        client: ClientId,
        result: Result<UpdateDone, RequestError>,
    },
    /// `apply` of the session's overrides to the source camera.
    Apply {
        client: ClientId,
        sections: Vec<String>,
    },
    /// [`Action::ApplyOverrides`] done (or refused).
    Applied {
        client: ClientId,
        result: Result<ApplyReply, RequestError>,
    },
    /// The shell started the ffmpeg of [`Action::SpawnClip`].
    ClipStarted {
        record: Option<ChildRecord>,
    },
    /// The shell started ffprobe on the clip ([`Action::MeasureClip`]).
    MeasureStarted,
    /// A spawn or IO step of the shell failed; the job cannot go on.
    StepFailed(JobFailure),
    Progress(ProgressUpdate),
    ChildExited(ChildExit),
    /// The clip's duration, read from its own header by the shell.
    ClipMeasured {
        duration: f64,
    },
    /// [`Action::LinkSegments`] done: the plan's entries before `upto` are
    /// linked; the links made in this step hold `bytes`. A segment gone
    /// since the start's check (the NVR's retention) is skipped: its index
    /// and the warning that names it.
    Linked {
        upto: usize,
        bytes: u64,
        skipped: Vec<(usize, String)>,
    },
    /// The kernel refused a link (EXDEV, EPERM): why.
    LinkRefused {
        reason: String,
    },
    /// [`Action::WritePlaylist`] done.
    PlaylistWritten,
    /// [`Action::Publish`] done: the config the camera was published with.
    Published {
        replay: String,
        result: Result<Option<serde_json::Value>, JobFailure>,
        clip_path: std::path::PathBuf,
        /// What the publish went ahead despite (a detect size from the clip).
        warnings: Vec<String>,
    },
    /// [`Action::CleanUp`] done: what the replay produced, and what was removed.
    Cleaned {
        summary: Summary,
    },
    /// [`Action::Replan`] done (a session restarted after a crash).
    Replanned {
        result: Result<ClipPlan, String>,
    },
    /// [`Action::Republish`] done (a ready session resumed after a crash).
    Republished {
        result: Result<(), String>,
    },
    /// What the state file held at start-up.
    Recovered(Recovered),
    /// The timer fired.
    Timer,
    /// The daemon is exiting (SIGTERM).
    Shutdown,
}

/// What the shell must do. Actions that produce a result name the input the
/// shell feeds back.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Reply {
        client: ClientId,
        reply: Reply,
    },
    /// Write session.json (`None`: no session).
    Persist(Option<PersistedSession>),
    /// Broadcast to subscribers.
    Emit(Event),
    Log {
        level: log::Level,
        message: String,
    },
    /// Check camera, database, segments and space → [`Input::StartChecked`].
    CheckStart {
        client: ClientId,
        camera: String,
        start: f64,
        end: f64,
        options: StartOptions,
    },
    /// Ask the NVR what a start needs (reachable, version, cameras, its own
    /// replay), removing a camera still owed first → [`Input::NvrChecked`].
    CheckNvr {
        client: ClientId,
        source: String,
        replay: String,
        remove_first: bool,
    },
    /// Look the export up, check it and start ffprobe on it →
    /// [`Input::ExportProbeStarted`] or [`Input::ExportRefused`].
    CheckExport {
        export_id: String,
        options: StartOptions,
    },
    /// Resolve the file in the import dir, check it and the camera, start
    /// ffprobe on it → [`Input::FileProbeStarted`] or [`Input::ExportRefused`].
    CheckFile {
        camera: String,
        path: String,
        options: StartOptions,
    },
    /// Write the concat list and start ffmpeg → [`Input::ClipStarted`] or
    /// [`Input::StepFailed`].
    SpawnClip {
        replay: String,
        plan: ClipPlan,
        /// Measure the free space against the plan's footage first: a copy
        /// that follows a link refused at run time (the start asked for no
        /// space in link mode).
        check_space: bool,
    },
    /// Link the plan's entries from `from` on (at most [`link::BATCH`]) into
    /// the replay camera's folder → [`Input::Linked`],
    /// [`Input::LinkRefused`] or [`Input::StepFailed`].
    LinkSegments {
        replay: String,
        plan: ClipPlan,
        from: usize,
    },
    /// Write the playlist of the links atomically → [`Input::PlaylistWritten`]
    /// or [`Input::StepFailed`].
    WritePlaylist {
        replay: String,
        plan: ClipPlan,
        /// Entries that were not linked (gone since the check).
        skipped: Vec<usize>,
    },
    /// Measure the partial clip: its header → [`Input::ClipMeasured`], else
    /// ffprobe → [`Input::MeasureStarted`] (or [`Input::StepFailed`]).
    MeasureClip {
        replay: String,
    },
    /// One SIGTERM to the child.
    Terminate,
    /// SIGKILL to the child.
    Kill,
    /// SIGKILL and reap at once (the daemon is exiting, or the job is over).
    KillAndReap,
    /// Remove the partial clip and the concat list.
    DiscardPartial {
        replay: String,
    },
    /// Remove the finished clip.
    RemoveClip {
        replay: String,
    },
    /// Move the clip into place (copy mode), build the camera on the clip or
    /// the playlist and publish it → [`Input::Published`].
    Publish {
        source: String,
        replay: String,
        mode: Mode,
        detect_size: Option<(u32, u32)>,
        tuning: Tuning,
    },
    /// Write the camera file of a resumed session again → [`Input::Republished`].
    Republish {
        source: String,
        replay: String,
        mode: Mode,
        /// What the NVR said at the start: a resumed camera keeps the
        /// detect size it was published with.
        detect_size: Option<(u32, u32)>,
        tuning: Tuning,
    },
    /// Merge `overrides` into the session's and drop `reset`, rebuild the
    /// replay camera, validate it and update the running one (camera file,
    /// `camera update` event, the NVR) → [`Input::UpdatePublished`]. A
    /// refusal changes nothing.
    PublishUpdate(UpdateRequest),
    /// Write the session's overrides of `sections` (all, when empty) into
    /// the source camera → [`Input::Applied`].
    ApplyOverrides {
        client: ClientId,
        source: String,
        overrides: serde_json::Value,
        sections: Vec<String>,
    },
    /// Remove the camera from the NVR (and its file, with a `camera remove`
    /// event) → [`Input::Unpublished`].
    Unpublish {
        replay: String,
    },
    /// Delete the rows and files of a camera the NVR no longer runs (a boot
    /// cleanup whose removal was owed).
    CleanStale {
        replay: String,
    },
    /// The NVR does not have the camera, finally: the ledger forgets it.
    Forget {
        replay: String,
    },
    /// Remove a camera file left from an interrupted start (no event: no
    /// one was told of it in this daemon's life).
    RemoveCameraFile {
        replay: String,
    },
    /// Count what the replay produced, then delete its rows and files →
    /// [`Input::Cleaned`].
    CleanUp {
        replay: String,
    },
    /// The clip plan of a session that starts over → [`Input::Replanned`].
    Replan {
        session: Session,
    },
    /// End an ffmpeg a dead daemon left, if it is still the same process.
    KillLeftover(ChildRecord),
    /// Clean every replay camera the ledger names but `keep`; `also` names
    /// one the state file knew of → [`Input::BootCleaned`].
    BootCleanup {
        keep: Option<String>,
        also: Option<String>,
    },
}

/// A child process the lifecycle waits on, and its deadlines.
#[derive(Debug, Clone, PartialEq)]
struct ChildWatch {
    program: &'static str,
    /// Boot time of the last sign of life (start, or progress that advanced).
    alive_at: f64,
    last_out_time: f64,
    /// Boot time of the SIGKILL owed after a SIGTERM.
    kill_at: Option<f64>,
    term_sent: bool,
    /// Why the machine is ending it, reported once it has exited.
    failure: Option<JobFailure>,
}

impl ChildWatch {
    fn new(program: &'static str, now: Now) -> ChildWatch {
        ChildWatch {
            program,
            alive_at: now.boot,
            last_out_time: -1.0,
            kill_at: None,
            term_sent: false,
            failure: None,
        }
    }

    /// The SIGKILL after a SIGTERM, else the stall check.
    fn deadline(&self, stall: f64) -> Option<f64> {
        self.kill_at
            .or_else(|| (!self.term_sent).then_some(self.alive_at + stall))
    }
}

/// Where a session's clip is (SPEC `preparing_clip`).
#[derive(Debug, Clone, PartialEq)]
enum Preparing {
    /// ffmpeg cuts the clip (`child` is `None` until it was started).
    Cutting {
        plan: ClipPlan,
        rebuilds: u32,
        child: ChildWatch,
    },
    /// The clip's duration is measured against what the segments cover.
    Measuring {
        plan: ClipPlan,
        rebuilds: u32,
        probe: Option<ChildWatch>,
    },
    /// The segments are hard-linked, [`link::BATCH`] at a time, then the
    /// playlist is written (link mode).
    Linking {
        plan: ClipPlan,
        done: usize,
        skipped: Vec<usize>,
    },
    /// A restarted session waits for its plan.
    Planning,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    /// A start whose reply waits for the NVR's answers.
    CheckingStart {
        client: ClientId,
        plan: Box<StartPlan>,
    },
    /// A `start_from_export` or `start_from_file` whose reply waits for the
    /// source's checks and ffprobe; the session is not active yet.
    CheckingExport {
        client: ClientId,
        export: Option<Probed>,
        probe: Option<ChildWatch>,
        options: StartOptions,
        clip_mode: ModeChoice,
    },
    PreparingClip {
        session: Session,
        step: Preparing,
    },
    StartingCamera {
        session: Session,
    },
    Ready {
        session: Session,
    },
    Stopping {
        session: Session,
        /// Clients owed the summary (empty for an auto-stop).
        waiters: Vec<ClientId>,
        /// A child being ended; cleanup waits for it.
        child: Option<ChildWatch>,
        /// The job was still running when the stop came.
        job_in_flight: bool,
        stopped_in: SessionState,
        /// Waiting for the NVR to confirm the camera's removal.
        unpublishing: bool,
        warnings: Vec<String>,
    },
    /// A crashed daemon's session being resumed or restarted.
    Recovering {
        session: Session,
    },
}

/// The lifecycle: the phase plus what status reports of past jobs.
#[derive(Debug)]
pub struct Lifecycle {
    settings: Settings,
    phase: Phase,
    /// The last job's state (kept after it ended, so a failure stays visible).
    job: Option<Job>,
    last_summary: Option<Summary>,
    progress: f64,
    throttle: ProgressThrottle,
    /// What was last handed out to persist.
    persisted: Option<Option<PersistedSession>>,
    pending: Vec<PendingRemoval>,
    /// The client whose update or apply the shell is carrying out: one at a
    /// time, and only while the session is ready.
    tuning_for: Option<ClientId>,
    out: Vec<Action>,
}

impl Lifecycle {
    pub fn new(settings: Settings) -> Lifecycle {
        Lifecycle {
            settings,
            phase: Phase::Idle,
            job: None,
            last_summary: None,
            progress: 0.0,
            throttle: ProgressThrottle::default(),
            persisted: None,
            pending: Vec::new(),
            tuning_for: None,
            out: Vec::new(),
        }
    }

    /// A reload: new limits apply to the next decision.
    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }

    /// The one entry point: an input in, the actions to carry out.
    pub fn handle(&mut self, input: Input, now: Now) -> Vec<Action> {
        match input {
            Input::Start {
                client,
                camera,
                start_time,
                end_time,
                options,
            } => self.start(client, &camera, start_time, end_time, options),
            Input::StartChecked { client, result } => match result {
                Ok(plan) => self.check_nvr(client, plan),
                Err(error) => self.refuse(client, RequestErrorKind::from_error(&error)),
            },
            Input::StartFromExport {
                client,
                export_id,
                options,
            } => self.start_from_export(client, export_id, options),
            Input::StartFromFile {
                client,
                camera,
                path,
                options,
            } => self.start_from_file(client, camera, path, options),
            Input::ExportProbeStarted { export, clip_mode } => {
                self.export_probe_started(Probed::Export(export), clip_mode, now)
            }
            Input::FileProbeStarted { file, clip_mode } => {
                self.export_probe_started(Probed::File(file), clip_mode, now)
            }
            Input::ExportRefused { error } => self.export_refused(&error),
            Input::NvrChecked { client, result } => self.nvr_checked(client, result, now),
            Input::Unpublished { replay, result } => self.unpublished(replay, result, now),
            Input::BootCleaned { owed } => self.owe_removals(owed, true, now.boot, 0.0, now),
            Input::Stop { client } => self.stop(Some(client), now),
            Input::Update {
                client,
                overrides,
                reset,
            } => self.update(client, overrides, reset),
            Input::UpdatePublished { client, result } => self.update_published(client, result),
            Input::Apply { client, sections } => self.apply(client, sections),
            Input::Applied { client, result } => self.applied(client, result),
            Input::ClipStarted { record } => self.clip_started(record),
            Input::MeasureStarted => self.measure_started(now),
            Input::StepFailed(failure) => self.step_failed(failure, now),
            Input::Progress(update) => self.progress(update, now),
            Input::ChildExited(exit) => self.child_exited(exit, now),
            Input::ClipMeasured { duration } => self.clip_measured(duration, now),
            Input::Linked {
                upto,
                bytes,
                skipped,
            } => self.linked(upto, bytes, skipped, now),
            Input::LinkRefused { reason } => self.link_refused(reason, now),
            Input::PlaylistWritten => self.playlist_written(now),
            Input::Published {
                replay,
                result,
                clip_path,
                warnings,
            } => self.published(replay, result, clip_path, warnings, now),
            Input::Cleaned { summary } => self.cleaned(summary, now),
            Input::Replanned { result } => self.replanned(result, now),
            Input::Republished { result } => self.republished(result),
            Input::Recovered(recovered) => self.recover(recovered, now),
            Input::Timer => self.timer(now),
            Input::Shutdown => self.shutdown(now),
        }
        self.flush_persist();
        std::mem::take(&mut self.out)
    }

    // ---- projections -------------------------------------------------

    /// The nearest deadline on the boot-time clock: a child's stall check or
    /// SIGKILL, and the auto-stop. `None` while idle: no periodic wake-ups.
    pub fn next_deadline(&self) -> Option<f64> {
        let stall = self.settings.stall_timeout;
        let child = self.child().and_then(|c| c.deadline(stall));
        let auto_stop = match &self.phase {
            Phase::PreparingClip { session, .. }
            | Phase::StartingCamera { session }
            | Phase::Ready { session } => Some(session.deadline),
            _ => None,
        };
        let retry = self
            .pending
            .iter()
            .filter(|p| !p.in_flight)
            .map(|p| p.next_at)
            .reduce(f64::min);
        [child, auto_stop, retry]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// `pending_removals` of `status`.
    pub fn pending_removals(&self) -> Vec<String> {
        self.pending.iter().map(|p| p.replay.clone()).collect()
    }

    /// `session` of `status`.
    pub fn view(&self) -> SessionView {
        match (self.session(), self.state()) {
            (Some(session), state) => session.view(state),
            (None, _) => SessionView::idle(),
        }
    }

    pub fn job(&self) -> Option<&Job> {
        self.job.as_ref()
    }

    pub fn last_summary(&self) -> Option<&Summary> {
        self.last_summary.as_ref()
    }

    /// The STATUS= line systemd shows.
    pub fn status_line(&self) -> String {
        let line = self.phase_line();
        match self.pending.as_slice() {
            [] => line,
            [one] => format!("{line}; removal of {} pending", one.replay),
            many => format!("{line}; removal of {} cameras pending", many.len()),
        }
    }

    fn phase_line(&self) -> String {
        match &self.phase {
            Phase::Idle => "idle".to_string(),
            Phase::CheckingStart { plan, .. } => {
                format!("idle, checking the NVR for {}", plan.camera)
            }
            Phase::CheckingExport { export, .. } => match export {
                Some(Probed::Export(e)) => format!("idle, checking export {}", e.id),
                Some(Probed::File(f)) => format!("idle, checking file {}", f.name),
                None => "idle".to_string(),
            },
            Phase::Stopping { session, .. } => {
                format!("stopping replay {}", session.replay_camera)
            }
            Phase::Recovering { session } => format!("recovering {}", session.replay_camera),
            Phase::PreparingClip { session, .. } => format!(
                "preparing clip {:.0}% for {} from {}",
                self.progress, session.replay_camera, session.source_camera
            ),
            Phase::StartingCamera { session } => {
                format!("starting camera {}", session.replay_camera)
            }
            Phase::Ready { session } => format!(
                "replaying {}, auto-stop at {}",
                session.replay_camera,
                session::format_utc(session.auto_stop_at)
            ),
        }
    }

    /// Whether a child process is running on the lifecycle's behalf.
    pub fn has_child(&self) -> bool {
        self.child().is_some()
    }

    /// The replay camera of the active session, if any.
    pub fn replay_camera(&self) -> Option<&str> {
        self.session().map(|s| s.replay_camera.as_str())
    }

    fn session(&self) -> Option<&Session> {
        match &self.phase {
            Phase::Idle | Phase::CheckingStart { .. } | Phase::CheckingExport { .. } => None,
            Phase::PreparingClip { session, .. }
            | Phase::StartingCamera { session }
            | Phase::Ready { session }
            | Phase::Stopping { session, .. }
            | Phase::Recovering { session } => Some(session),
        }
    }

    /// The SPEC state of the session (`idle` without one).
    fn state(&self) -> SessionState {
        match &self.phase {
            Phase::Idle | Phase::CheckingStart { .. } | Phase::CheckingExport { .. } => {
                SessionState::Idle
            }
            Phase::PreparingClip { .. } | Phase::Recovering { .. } => SessionState::PreparingClip,
            Phase::StartingCamera { .. } => SessionState::StartingCamera,
            Phase::Ready { .. } => SessionState::Ready,
            // The state the stop came in: kept so a crash mid-stop still knows.
            Phase::Stopping { stopped_in, .. } => *stopped_in,
        }
    }

    fn child(&self) -> Option<&ChildWatch> {
        match &self.phase {
            Phase::CheckingExport { probe, .. } => probe.as_ref(),
            Phase::PreparingClip {
                step: Preparing::Cutting { child, .. },
                ..
            } => Some(child),
            Phase::PreparingClip {
                step: Preparing::Measuring { probe, .. },
                ..
            } => probe.as_ref(),
            Phase::Stopping { child, .. } => child.as_ref(),
            _ => None,
        }
    }

    fn child_mut(&mut self) -> Option<&mut ChildWatch> {
        match &mut self.phase {
            Phase::CheckingExport { probe, .. } => probe.as_mut(),
            Phase::PreparingClip {
                step: Preparing::Cutting { child, .. },
                ..
            } => Some(child),
            Phase::PreparingClip {
                step: Preparing::Measuring { probe, .. },
                ..
            } => probe.as_mut(),
            Phase::Stopping { child, .. } => child.as_mut(),
            _ => None,
        }
    }

    /// What session.json must hold now.
    fn record(&self) -> Option<PersistedSession> {
        let session = self.session()?;
        Some(PersistedSession {
            state: self.state(),
            stopping: matches!(self.phase, Phase::Stopping { .. }),
            session: session.clone(),
        })
    }

    // ---- output --------------------------------------------------------

    /// Every effect goes out through here, after the persist it depends on:
    /// a crash right after an effect finds session.json already telling of it.
    fn act(&mut self, action: Action) {
        self.flush_persist();
        self.out.push(action);
    }

    fn flush_persist(&mut self) {
        let record = self.record();
        if self.persisted.as_ref() != Some(&record) {
            self.persisted = Some(record.clone());
            self.out.push(Action::Persist(record));
        }
    }

    fn log(&mut self, level: log::Level, message: String) {
        self.out.push(Action::Log { level, message });
    }

    fn reply(&mut self, client: ClientId, reply: Reply) {
        self.act(Action::Reply { client, reply });
    }

    fn refuse(&mut self, client: ClientId, error: RequestErrorKind) {
        self.log(
            log::Level::Info,
            format!("request refused: {}", error.message()),
        );
        self.reply(client, Reply::Refused(error));
    }

    /// Emits the session's job state and keeps it as the last job.
    fn emit_job(&mut self, status: JobStatus, error: Option<String>, now: Now) {
        let state = self.state();
        let Some(session) = self.session() else {
            return;
        };
        let ended = status.is_terminal().then_some(now.wall);
        let job = session::job_state(
            session,
            state,
            status,
            self.progress,
            session.started_at,
            ended,
            error,
        );
        self.job = Some(job.clone());
        self.act(Action::Emit(Event::JobState { job }));
    }

    // ---- start -------------------------------------------------------

    /// One session, one start at a time; a start during a stop is refused.
    fn busy(&self) -> Option<String> {
        match &self.phase {
            Phase::Idle => None,
            Phase::CheckingExport { .. } => {
                Some("a start from an export or a file is being checked".into())
            }
            Phase::CheckingStart { plan, .. } => Some(format!(
                "a start of {} is being checked with the NVR",
                plan.camera
            )),
            Phase::Stopping { session, .. } => Some(format!(
                "{} from {}, being stopped",
                session.replay_camera, session.source_camera
            )),
            _ => self.session().map(|s| {
                format!(
                    "{} from {}, {}",
                    s.replay_camera,
                    s.source_camera,
                    self.state().as_str()
                )
            }),
        }
    }

    /// start: everything that needs no IO is refused here, before the shell
    /// looks at the camera, the database and the disk.
    fn start(
        &mut self,
        client: ClientId,
        camera: &str,
        start: f64,
        end: f64,
        options: StartOptions,
    ) {
        if let Some(doing) = self.busy() {
            return self.refuse(client, RequestErrorKind::AlreadyActive(doing));
        }
        if let Err(e) = names::CameraName::parse(camera) {
            return self.refuse(client, RequestErrorKind::InvalidParams(e.to_string()));
        }
        if let Err(message) = check_range(start, end, self.settings.max_range) {
            return self.refuse(client, RequestErrorKind::InvalidParams(message));
        }
        if let Err(message) = check_options(&options) {
            return self.refuse(client, RequestErrorKind::InvalidParams(message));
        }
        self.act(Action::CheckStart {
            client,
            camera: camera.to_string(),
            start,
            end,
            options,
        });
    }

    fn start_from_export(&mut self, client: ClientId, export_id: String, options: StartOptions) {
        if self.begin_probe(client, &options) {
            self.act(Action::CheckExport { export_id, options });
        }
    }

    /// A start whose source ffprobe measures first: refused at once, or the
    /// machine waits for the source's checks (`true`).
    fn begin_probe(&mut self, client: ClientId, options: &StartOptions) -> bool {
        if let Some(doing) = self.busy() {
            self.refuse(client, RequestErrorKind::AlreadyActive(doing));
            return false;
        }
        if let Err(message) = check_options(options) {
            self.refuse(client, RequestErrorKind::InvalidParams(message));
            return false;
        }
        self.phase = Phase::CheckingExport {
            client,
            export: None,
            probe: None,
            options: options.clone(),
            clip_mode: ModeChoice::default(),
        };
        true
    }

    /// start_from_file: the camera's name and the options are judged here,
    /// the path by the shell (it must stay inside the import dir).
    fn start_from_file(
        &mut self,
        client: ClientId,
        camera: String,
        path: String,
        options: StartOptions,
    ) {
        if self.busy().is_none() {
            if let Err(e) = names::CameraName::parse(&camera) {
                return self.refuse(client, RequestErrorKind::InvalidParams(e.to_string()));
            }
        }
        if !self.begin_probe(client, &options) {
            return;
        }
        self.act(Action::CheckFile {
            camera,
            path,
            options,
        });
    }

    fn export_probe_started(&mut self, found: Probed, chosen: ModeChoice, now: Now) {
        if let Phase::CheckingExport {
            export,
            probe,
            clip_mode,
            ..
        } = &mut self.phase
        {
            *export = Some(found);
            *probe = Some(ChildWatch::new("ffprobe", now));
            *clip_mode = chosen;
        }
    }

    fn export_refused(&mut self, error: &RequestError) {
        if let Phase::CheckingExport { client, .. } = self.phase {
            self.phase = Phase::Idle;
            self.refuse(client, RequestErrorKind::from_error(error));
        }
    }

    /// The export's or file's duration is known: accept it or say why not.
    fn source_probed(
        &mut self,
        client: ClientId,
        probed: Probed,
        exit: ChildExit,
        options: StartOptions,
        clip_mode: ModeChoice,
    ) {
        self.phase = Phase::Idle;
        let what = probed.describe();
        let duration = std::str::from_utf8(&exit.stdout)
            .ok()
            .and_then(clip::parse_probe_duration)
            .filter(|d| exit.success && *d > 0.0);
        let Some(duration) = duration else {
            let why = exit.status.clone();
            return self.refuse(
                client,
                RequestErrorKind::InvalidParams(format!(
                    "cannot read the duration of {what} ({why}): {}",
                    exit.stderr_tail
                )),
            );
        };
        let max_range = self.settings.max_range;
        if duration > max_range {
            return self.refuse(
                client,
                RequestErrorKind::InvalidParams(format!(
                    "{what} is {duration:.0}s long, more than session.max_range ({max_range:.0}s)"
                )),
            );
        }
        let plan = match probed {
            Probed::Export(export) => StartPlan {
                camera: export.camera.clone(),
                start: export.date,
                end: export.date + duration,
                plan: clip::plan_whole_file(&export.video_path, duration),
                source: ClipSource::Export {
                    export_id: export.id,
                    video_path: export.video_path,
                },
                warnings: Vec::new(),
                options,
                clip_mode,
            },
            // A file has no time of its own: its range is its own timeline.
            Probed::File(file) => StartPlan {
                camera: file.camera,
                start: 0.0,
                end: duration,
                plan: clip::plan_whole_file(&file.path, duration),
                source: ClipSource::File {
                    name: file.name,
                    path: file.path,
                },
                warnings: Vec::new(),
                options,
                clip_mode,
            },
        };
        self.check_nvr(client, plan);
    }

    /// The local checks passed: ask the NVR (its reachability, version,
    /// cameras and own replay) before the reply; a removal still owed for
    /// this camera is completed first.
    fn check_nvr(&mut self, client: ClientId, start: StartPlan) {
        if let Some(doing) = self.busy() {
            return self.refuse(client, RequestErrorKind::AlreadyActive(doing));
        }
        let replay = names::replay_name(&start.camera);
        let remove_first = self.pending.iter().any(|p| p.replay == replay);
        let source = start.camera.clone();
        self.phase = Phase::CheckingStart {
            client,
            plan: Box::new(start),
        };
        self.act(Action::CheckNvr {
            client,
            source,
            replay,
            remove_first,
        });
    }

    fn nvr_checked(&mut self, client: ClientId, result: Result<NvrFacts, RequestError>, now: Now) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::CheckingStart {
            client: waiting,
            plan,
        } = phase
        else {
            self.phase = phase;
            return;
        };
        if waiting != client {
            self.phase = Phase::CheckingStart {
                client: waiting,
                plan,
            };
            return;
        }
        match result {
            Ok(facts) => {
                // A removal the check completed is not owed any more.
                let replay = names::replay_name(&plan.camera);
                self.pending.retain(|p| p.replay != replay);
                self.accept(client, *plan, facts, now);
            }
            Err(error) => self.refuse(client, RequestErrorKind::from_error(&error)),
        }
    }

    /// Accepting: the session is active at once and persisted, the client
    /// told, then the job starts.
    fn accept(&mut self, client: ClientId, start: StartPlan, facts: NvrFacts, now: Now) {
        if let Some(doing) = self.busy() {
            return self.refuse(client, RequestErrorKind::AlreadyActive(doing));
        }
        let max = self.settings.max_duration;
        let replay = names::replay_name(&start.camera);
        let job_id = new_job_id(now.wall, client, &replay);
        let mut warnings = start.warnings;
        let choice = start.clip_mode;
        if let (Mode::Copy, Some(reason), false) = (choice.mode, &choice.reason, choice.forced) {
            warnings.push(link::fallback_warning(reason));
        }
        let session = Session {
            replay_camera: replay,
            source_camera: start.camera,
            source: start.source,
            start_time: start.start,
            end_time: start.end,
            started_at: now.wall,
            auto_stop_at: now.wall + max,
            deadline: now.boot + max,
            clip_path: None,
            published: false,
            job_id,
            interruptions: 0,
            ffmpeg: None,
            detect_size: facts.detect_size,
            warnings,
            speed: start.options.speed.unwrap_or(1.0),
            overrides: start.options.overrides.clone(),
            clip_mode: choice.mode,
            clip_mode_reason: choice.reason,
            link_forced: choice.forced,
            linked_bytes: None,
        };
        self.log(
            log::Level::Info,
            format!(
                "session accepted: {} from {} over {} ({:.0}s), job {}, clip mode {}{}",
                session.replay_camera,
                session.source_camera,
                session::describe_range(session.start_time, session.end_time),
                session.range(),
                session.job_id,
                session.clip_mode,
                session
                    .clip_mode_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
        let reply = StartReply {
            replay_camera: session.replay_camera.clone(),
            job_id: session.job_id.clone(),
        };
        self.phase = Phase::PreparingClip {
            session,
            step: Preparing::Planning,
        };
        self.progress = 0.0;
        self.throttle.reset();
        self.last_summary = None;
        self.emit_job(JobStatus::Running, None, now);
        self.prepare(start.plan, now);
        self.reply(client, Reply::Started(reply));
    }

    // ---- starting_camera -----------------------------------------------

    fn start_camera(&mut self, now: Now) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::PreparingClip { session, .. } = phase else {
            self.phase = phase;
            return;
        };
        let (source, replay) = (session.source_camera.clone(), session.replay_camera.clone());
        let detect_size = session.detect_size;
        let tuning = session.tuning();
        let mode = session.clip_mode;
        self.phase = Phase::StartingCamera { session };
        self.emit_job(JobStatus::Running, None, now);
        self.act(Action::Publish {
            source,
            replay,
            mode,
            detect_size,
            tuning,
        });
    }

    fn published(
        &mut self,
        replay: String,
        result: Result<Option<serde_json::Value>, JobFailure>,
        clip_path: std::path::PathBuf,
        warnings: Vec<String>,
        now: Now,
    ) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::StartingCamera { mut session } = phase else {
            self.phase = phase;
            // Never published after a stop: an add the NVR took (or may
            // have taken) after its session ended is taken back.
            match result {
                Ok(_) => self.owe_removals(vec![replay], false, now.boot, 0.0, now),
                Err(JobFailure::NvrUnknown(_)) => {
                    let settle = self.unknown_add_settles(now);
                    self.owe_removals(vec![replay], false, now.boot, settle, now)
                }
                Err(_) => {}
            }
            return;
        };
        session.warnings.extend(warnings);
        let config = match result {
            Ok(config) => config,
            Err(failure) => {
                self.phase = Phase::StartingCamera { session };
                return self.fail(failure, now);
            }
        };
        session.published = true;
        session.clip_path = Some(clip_path.clone());
        for warning in &session.warnings {
            self.out.push(Action::Log {
                level: log::Level::Warn,
                message: format!("{}: {warning}", session.replay_camera),
            });
        }
        let (source, replay) = (session.source_camera.clone(), session.replay_camera.clone());
        self.phase = Phase::Ready { session };
        self.progress = 100.0;
        self.act(Action::Emit(Event::Camera {
            action: CameraAction::Add,
            camera: replay.clone(),
            config,
            sections: None,
        }));
        self.emit_job(JobStatus::Success, None, now);
        self.log(
            log::Level::Info,
            format!(
                "replay camera {replay} published (source {source}), clip {}",
                clip_path.display()
            ),
        );
    }

    // ---- failure -------------------------------------------------------

    /// Failure in any step: say why, remove what was made, unpublish what
    /// was published, clear the session.
    fn fail(&mut self, failure: JobFailure, now: Now) {
        let Some(session) = self.session().cloned() else {
            return;
        };
        if self.has_child() {
            self.act(Action::KillAndReap);
        }
        let message = failure.to_string();
        self.log(
            log::Level::Error,
            format!(
                "clip job failed for {} (source {}): {message}",
                session.replay_camera, session.source_camera
            ),
        );
        let replay = session.replay_camera.clone();
        // Clean first: a client acting on the `failed` event finds nothing left.
        self.act(Action::DiscardPartial {
            replay: replay.clone(),
        });
        self.act(Action::RemoveClip {
            replay: replay.clone(),
        });
        if session.published {
            self.act(Action::Unpublish { replay });
        } else if matches!(failure, JobFailure::NvrUnknown(_)) {
            // Treated as added: removed (that goes out now), and "absent"
            // believed only once an add that is late could have landed.
            let settle = self.unknown_add_settles(now);
            self.owe_removals(vec![replay], false, now.boot, settle, now);
        } else if matches!(self.phase, Phase::StartingCamera { .. }) {
            // The camera file is written before the NVR is asked
            // (daemon/publisher.rs): an add the NVR refused or never got must
            // not leave it behind (found by tests/frigate_publisher.rs).
            self.act(Action::RemoveCameraFile { replay });
        }
        self.emit_job(JobStatus::Failed, Some(message), now);
        self.phase = Phase::Idle;
        self.flush_persist();
    }

    // ---- exit ----------------------------------------------------------

    /// SIGTERM to the daemon: a stop in progress is finished now (its
    /// clients asked for a clean slate); otherwise the session stays in
    /// session.json for the next start, and only the partial clip goes.
    fn shutdown(&mut self, now: Now) {
        if self.has_child() {
            self.act(Action::KillAndReap);
        }
        let mut discard = None;
        match &mut self.phase {
            Phase::Stopping { child, .. } => {
                *child = None;
                self.finish_stop(now);
                return;
            }
            Phase::PreparingClip { session, step } => {
                session.ffmpeg = None;
                if let Preparing::Cutting { .. } | Preparing::Measuring { .. } = step {
                    discard = Some(session.replay_camera.clone());
                }
            }
            Phase::CheckingExport { .. } | Phase::CheckingStart { .. } => self.phase = Phase::Idle,
            _ => {}
        }
        if let Some(replay) = discard {
            self.act(Action::DiscardPartial { replay });
        }
    }
}

/// What the measured clip says about the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipVerdict {
    Good,
    /// Ended early at this entry: cut again without it.
    Rebuild(usize),
    /// Ended early at this entry and no rebuild is left.
    Fail(usize),
}

/// Tolerance of about one GOP plus 1% drift; a plan of one entry has nothing
/// to rebuild without, and a clip is cut at most [`MAX_REBUILDS`] + 1 times:
/// segments are planned by their own measured length, so a clip that keeps
/// ending early has more wrong with it than one bad segment.
pub fn judge_clip(plan: &ClipPlan, duration: f64, rebuilds: u32) -> ClipVerdict {
    let tolerance = 1.0 + plan.expected_duration * 0.01;
    match clip::truncated_at(plan, duration, tolerance) {
        None => ClipVerdict::Good,
        Some(bad) if plan.entries.len() > 1 && rebuilds < MAX_REBUILDS => ClipVerdict::Rebuild(bad),
        Some(bad) => ClipVerdict::Fail(bad),
    }
}

/// Rebuilds without a bad segment, at most.
pub const MAX_REBUILDS: u32 = 3;

/// A start's speed and overrides, as far as they can be judged without the
/// NVR config (the shell builds and validates the camera with them).
pub fn check_options(options: &StartOptions) -> Result<(), String> {
    if let Some(speed) = options.speed {
        overrides::check_speed(speed)?;
    }
    if let Some(value) = &options.overrides {
        overrides::check_shape(value).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// start's range rule: finite, `end > start`, at most `max_range` seconds.
pub fn check_range(start: f64, end: f64, max_range: f64) -> Result<(), String> {
    if !start.is_finite() || !end.is_finite() {
        return Err("start_time and end_time must be finite numbers".into());
    }
    if end <= start {
        return Err(format!(
            "end_time ({}) must be after start_time ({})",
            session::format_utc_precise(end),
            session::format_utc_precise(start)
        ));
    }
    if end - start > max_range {
        return Err(format!(
            "range of {:.0}s is longer than session.max_range ({max_range:.0}s)",
            end - start
        ));
    }
    Ok(())
}

fn with_stderr(failure: JobFailure, stderr: &str) -> JobFailure {
    match failure {
        JobFailure::Stalled {
            program,
            secs,
            stderr: _,
        } => JobFailure::Stalled {
            program,
            secs,
            stderr: stderr.to_string(),
        },
        other => other,
    }
}

/// A job id like Frigate's: time-ordered, and told apart from any other id
/// of the same millisecond by a hash of what made it.
fn new_job_id(wall: f64, client: ClientId, replay: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let bytes = client
        .to_le_bytes()
        .into_iter()
        .chain(wall.to_bits().to_le_bytes())
        .chain(replay.bytes());
    for b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:.0}-{hash:08x}", wall * 1000.0)
}

mod preparing;
mod recovery;
mod stop;
mod tuning;

#[cfg(test)]
mod tests;
