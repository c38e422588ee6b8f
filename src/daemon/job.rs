//! The clip job's IO: ffmpeg cuts, ffprobe checks, the camera is published.
//! The decisions (plan, argv, progress, truncation) live in `replay::clip`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use serde_yaml::Mapping;

use crate::config::Config;
use crate::nvr::db::Export;
use crate::protocol::{CameraAction, Event, JobStatus, SessionState};
use crate::replay::camera::{self, CameraError};
use crate::replay::clip::{self, ClipPlan, ProgressParser, ProgressUpdate};
use crate::replay::mp4::{self, Mp4Error};
use crate::replay::session::{self, ChildRecord};

use super::atomic_file::write_atomic;
use super::child::{self, Child, Priority};
use super::clock;
use super::Daemon;

/// Most stdout kept from ffprobe (it prints one number).
const PROBE_OUTPUT_MAX: usize = 64 * 1024;

/// What is in flight. At most one child runs at a time.
pub(super) enum Work {
    Idle,
    /// ffprobe measuring an export before `start_from_export` is accepted.
    ExportProbe(Probe<ExportCheck>),
    /// ffmpeg cutting the clip.
    Clip(ClipRun),
    /// ffprobe measuring the finished clip.
    Verify(Probe<ClipPlan>),
}

pub(super) struct ExportCheck {
    pub client: u64,
    pub export: Export,
}

pub(super) struct Probe<T> {
    pub child: Child,
    pub stdout: Vec<u8>,
    pub started: f64,
    pub kill_at: Option<f64>,
    pub failure: Option<String>,
    pub what: T,
    pub rebuilds: u32,
}

pub(super) struct ClipRun {
    pub child: Child,
    pub plan: ClipPlan,
    pub parser: ProgressParser,
    pub last_out_time: f64,
    pub last_progress: f64,
    pub kill_at: Option<f64>,
    pub failure: Option<String>,
    pub rebuilds: u32,
}

impl Work {
    pub fn child(&self) -> Option<&Child> {
        match self {
            Work::Idle => None,
            Work::ExportProbe(p) => Some(&p.child),
            Work::Clip(c) => Some(&c.child),
            Work::Verify(p) => Some(&p.child),
        }
    }

    pub fn child_mut(&mut self) -> Option<&mut Child> {
        match self {
            Work::Idle => None,
            Work::ExportProbe(p) => Some(&mut p.child),
            Work::Clip(c) => Some(&mut c.child),
            Work::Verify(p) => Some(&mut p.child),
        }
    }

    /// Ends the work, handing over its child (dropping it kills and reaps it).
    pub fn take_child(&mut self) -> Option<Child> {
        match std::mem::replace(self, Work::Idle) {
            Work::Idle => None,
            Work::ExportProbe(p) => Some(p.child),
            Work::Clip(c) => Some(c.child),
            Work::Verify(p) => Some(p.child),
        }
    }

    fn kill_at_mut(&mut self) -> Option<&mut Option<f64>> {
        match self {
            Work::Idle => None,
            Work::ExportProbe(p) => Some(&mut p.kill_at),
            Work::Clip(c) => Some(&mut c.kill_at),
            Work::Verify(p) => Some(&mut p.kill_at),
        }
    }

    /// The child's next deadline: the SIGKILL after a SIGTERM, else the stall check.
    pub fn deadline(&self, config: &Config) -> Option<f64> {
        let stall = config.ffmpeg.stall_timeout.as_secs_f64();
        match self {
            Work::Idle => None,
            Work::Clip(c) => c
                .kill_at
                .or_else(|| (!c.child.term_sent()).then_some(c.last_progress + stall)),
            Work::ExportProbe(Probe {
                kill_at,
                started,
                child,
                ..
            })
            | Work::Verify(Probe {
                kill_at,
                started,
                child,
                ..
            }) => kill_at.or_else(|| (!child.term_sent()).then_some(started + stall)),
        }
    }

    /// SIGTERM now, SIGKILL at `grace` later.
    pub fn terminate(&mut self, now: f64, grace: f64) {
        if let Some(child) = self.child_mut() {
            child.terminate();
        }
        if let Some(kill_at) = self.kill_at_mut() {
            kill_at.get_or_insert(now + grace);
        }
    }
}

impl Daemon {
    /// Starts (or restarts, after a bad segment) ffmpeg on `plan`.
    pub(super) fn start_clip(&mut self, plan: ClipPlan, rebuilds: u32) {
        let Some(session) = &self.session else {
            return;
        };
        if plan.entries.is_empty() {
            self.fail_job("none of the recordings in the range could be read".to_string());
            return;
        }
        let paths = self.clip_paths(&session.replay_camera);
        let list = match clip::concat_list(&plan) {
            Ok(list) => list,
            Err(e) => return self.fail_job(format!("cannot write the concat list: {e}")),
        };
        let prepared =
            fs::create_dir_all(&paths.dir).and_then(|()| write_private(&paths.list, &list));
        if let Err(e) = prepared {
            self.fail_job(format!("cannot prepare {}: {e}", paths.dir.display()));
            return;
        }
        let args = clip::ffmpeg_args(&paths.list, &paths.part);
        let program = self.loaded.config.ffmpeg.path.clone();
        match Child::spawn("ffmpeg", &program, &args, Priority::Background) {
            Ok(child) => {
                let pid = child.pid();
                log::info!(
                    "clip job started for {} (source {}): ffmpeg [{pid}] on {} segments, {:.1}s expected",
                    session.replay_camera,
                    session.source_camera,
                    plan.entries.len(),
                    plan.expected_duration
                );
                let record = child::process_start_time(pid)
                    .map(|start_ticks| ChildRecord { pid, start_ticks });
                if let Some(session) = self.session.as_mut() {
                    session.ffmpeg = record;
                }
                self.persist();
                self.work = Work::Clip(ClipRun {
                    child,
                    plan,
                    parser: ProgressParser::new(),
                    last_out_time: -1.0,
                    last_progress: clock::boottime(),
                    kill_at: None,
                    failure: None,
                    rebuilds,
                });
            }
            Err(e) => self.fail_job(format!("cannot run ffmpeg ({}): {e}", program.display())),
        }
    }

    pub(super) fn on_child_stdout(&mut self) {
        let mut updates = Vec::new();
        match &mut self.work {
            Work::Idle => {}
            Work::Clip(run) => {
                let mut bytes = Vec::new();
                run.child.read_stdout(&mut bytes);
                updates = run.parser.push(&bytes);
                let now = clock::boottime();
                for update in &updates {
                    let advanced = match update {
                        ProgressUpdate::OutTime(t) => *t > run.last_out_time,
                        ProgressUpdate::End => true,
                    };
                    if advanced {
                        run.last_progress = now;
                        if let ProgressUpdate::OutTime(t) = update {
                            run.last_out_time = *t;
                        }
                    }
                }
            }
            Work::ExportProbe(p) => read_probe(&mut p.child, &mut p.stdout),
            Work::Verify(p) => read_probe(&mut p.child, &mut p.stdout),
        }
        for update in updates {
            let percent = match update {
                ProgressUpdate::OutTime(t) => {
                    let range = self.session.as_ref().map_or(0.0, |s| s.range());
                    clip::percent(t, range)
                }
                ProgressUpdate::End => 100.0,
            };
            self.on_progress(percent);
        }
    }

    fn on_progress(&mut self, percent: f64) {
        if self.stop_waiters.is_some() {
            return;
        }
        self.progress = percent;
        let step = self
            .session
            .as_ref()
            .map_or(SessionState::Idle, |s| s.state);
        if self.throttle.should_emit(clock::boottime(), step) {
            self.emit_job(JobStatus::Running, None);
        }
    }

    pub(super) fn check_child_deadlines(&mut self, now: f64) {
        let grace = self.loaded.config.ffmpeg.kill_grace.as_secs_f64();
        let stall = self.loaded.config.ffmpeg.stall_timeout.as_secs_f64();
        let Some(deadline) = self.work.deadline(&self.loaded.config) else {
            return;
        };
        if now < deadline {
            return;
        }
        let term_sent = self.work.child().is_some_and(|c| c.term_sent());
        if term_sent {
            if let Some(child) = self.work.child_mut() {
                log::warn!(
                    "{} [{}] ignored SIGTERM for {grace}s: killing it",
                    child.name(),
                    child.pid()
                );
                child.kill();
            }
            if let Some(kill_at) = self.work.kill_at_mut() {
                // The pidfd reports the exit; no further wake-ups needed.
                *kill_at = None;
            }
            return;
        }
        let message = match &self.work {
            Work::Clip(_) => format!("ffmpeg made no progress for {stall}s"),
            Work::ExportProbe(_) | Work::Verify(_) => format!("ffprobe did not finish in {stall}s"),
            Work::Idle => return,
        };
        log::error!("{message}: stopping it");
        match &mut self.work {
            Work::Clip(run) => run.failure = Some(message),
            Work::ExportProbe(p) => p.failure = Some(message),
            Work::Verify(p) => p.failure = Some(message),
            Work::Idle => {}
        }
        self.work.terminate(now, grace);
    }

    pub(super) fn on_child_exit(&mut self) {
        let status = match self.work.child_mut().map(|c| c.try_reap()) {
            None | Some(Ok(None)) => return,
            Some(Ok(Some(status))) => status,
            Some(Err(e)) => {
                log::error!("cannot reap child: {e}");
                return;
            }
        };
        // The pipes may still hold the last progress block or probe output.
        self.on_child_stdout();
        let work = std::mem::replace(&mut self.work, Work::Idle);
        if self.stop_waiters.is_some() {
            if let Some(child) = work.child() {
                log::info!(
                    "{} [{}] ended for stop ({status})",
                    child.name(),
                    child.pid()
                );
            }
            self.discard_partial_clip();
            self.finish_stop();
            return;
        }
        match work {
            Work::Idle => {}
            Work::ExportProbe(probe) => self.on_export_probed(probe, status),
            Work::Clip(run) => self.on_clip_done(run, status),
            Work::Verify(probe) => self.on_clip_probed(probe, status),
        }
    }

    fn on_clip_done(&mut self, run: ClipRun, status: ExitStatus) {
        if let Some(session) = self.session.as_mut() {
            session.ffmpeg = None;
        }
        let tail = run.child.stderr_tail();
        if let Some(failure) = run.failure {
            self.fail_job(with_stderr(failure, &tail));
            return;
        }
        if !status.success() {
            self.fail_job(with_stderr(
                format!("ffmpeg failed ({})", describe(status)),
                &tail,
            ));
            return;
        }
        let Some(session) = &self.session else {
            return;
        };
        let part = self.clip_paths(&session.replay_camera).part;
        // The clip's own header says how long it is; ffprobe (~80 ms of
        // start-up) is only the fallback for a header we cannot read.
        match fs::File::open(&part)
            .map_err(Mp4Error::from)
            .and_then(mp4::duration)
        {
            Ok(duration) => return self.check_clip(run.plan, duration, run.rebuilds),
            Err(e) => log::debug!("cannot read the clip's duration itself ({e}): asking ffprobe"),
        }
        let program = self.loaded.config.ffmpeg.ffprobe.clone();
        match Child::spawn(
            "ffprobe",
            &program,
            &clip::ffprobe_duration_args(&part),
            Priority::Normal,
        ) {
            Ok(child) => {
                self.work = Work::Verify(Probe {
                    child,
                    stdout: Vec::new(),
                    started: clock::boottime(),
                    kill_at: None,
                    failure: None,
                    what: run.plan,
                    rebuilds: run.rebuilds,
                })
            }
            Err(e) => self.fail_job(format!("cannot run ffprobe ({}): {e}", program.display())),
        }
    }

    /// ffmpeg's exit status proves nothing: compare the clip with what the segments cover.
    fn on_clip_probed(&mut self, probe: Probe<ClipPlan>, status: ExitStatus) {
        let tail = probe.child.stderr_tail();
        let duration = std::str::from_utf8(&probe.stdout)
            .ok()
            .and_then(clip::parse_probe_duration);
        let duration = match (probe.failure, duration) {
            (Some(failure), _) => return self.fail_job(with_stderr(failure, &tail)),
            (None, Some(d)) if status.success() => d,
            (None, _) => {
                return self.fail_job(with_stderr(
                    format!("the clip is unreadable ({})", describe(status)),
                    &tail,
                ))
            }
        };
        self.check_clip(probe.what, duration, probe.rebuilds);
    }

    /// A clip that ended early at a bad segment is rebuilt without it, never
    /// published truncated.
    fn check_clip(&mut self, plan: ClipPlan, duration: f64, rebuilds: u32) {
        let tolerance = 1.0 + plan.expected_duration * 0.01;
        if let Some(bad) = clip::truncated_at(&plan, duration, tolerance) {
            let segment = plan.entries[bad].path.display().to_string();
            if plan.entries.len() > 1 && (rebuilds as usize) < plan.entries.len() {
                log::warn!(
                    "clip ended early at {duration:.1}s of {:.1}s, at segment {segment}: rebuilding without it",
                    plan.expected_duration
                );
                let plan = clip::without_entry(&plan, bad);
                self.start_clip(plan, rebuilds + 1);
            } else {
                self.fail_job(format!(
                    "the clip ends at {duration:.1}s of {:.1}s: segment {segment} is unreadable",
                    plan.expected_duration
                ));
            }
            return;
        }
        log::info!(
            "clip ready: {duration:.2}s for {:.2}s requested",
            self.session.as_ref().map_or(0.0, |s| s.range())
        );
        self.publish();
    }

    /// starting_camera: build, validate, write `cameras/<name>.yml`, announce.
    fn publish(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        session.state = SessionState::StartingCamera;
        let replay = session.replay_camera.clone();
        let source = session.source_camera.clone();
        self.persist();
        self.emit_job(JobStatus::Running, None);
        let paths = self.clip_paths(&replay);
        if let Err(e) = fs::rename(&paths.part, &paths.clip) {
            return self.fail_job(format!("cannot move the clip into place: {e}"));
        }
        let config = match self.write_camera_file(&source, &replay, &paths.clip) {
            Ok(config) => config,
            Err(e) => return self.fail_job(e),
        };
        if let Some(session) = self.session.as_mut() {
            session.published = true;
            session.clip_path = Some(paths.clip.clone());
            session.state = SessionState::Ready;
        }
        self.progress = 100.0;
        self.persist();
        let json = serde_json::to_value(&config).ok();
        self.broadcast(&Event::Camera {
            action: CameraAction::Add,
            camera: replay.clone(),
            config: json,
        });
        self.emit_job(JobStatus::Success, None);
        log::info!(
            "replay camera {replay} published (source {source}), clip {}",
            paths.clip.display()
        );
    }

    /// Failure in any step: say why, drop the partial clip, clear the session.
    pub(super) fn fail_job(&mut self, message: String) {
        drop(self.work.take_child());
        if let Some(s) = &self.session {
            log::error!(
                "clip job failed for {} (source {}): {message}",
                s.replay_camera,
                s.source_camera
            );
        }
        // Clean first: a client acting on the `failed` event finds nothing left.
        self.discard_partial_clip();
        if let Some(s) = &self.session {
            remove_quietly(&self.clip_paths(&s.replay_camera).clip);
            if s.published {
                let replay = s.replay_camera.clone();
                self.unpublish(&replay);
            }
        }
        self.emit_job(JobStatus::Failed, Some(message));
        self.session = None;
        self.persist();
    }

    /// Removes the partial clip and the concat list of the current session.
    pub(super) fn discard_partial_clip(&mut self) {
        if let Some(s) = &self.session {
            let paths = self.clip_paths(&s.replay_camera);
            remove_quietly(&paths.part);
            remove_quietly(&paths.list);
            // Only our own clips live there; an empty dir is not worth keeping.
            let _ = fs::remove_dir(&paths.dir);
        }
    }

    /// Emits the session's job state and keeps it as the last job.
    pub(super) fn emit_job(&mut self, status: JobStatus, error: Option<String>) {
        let Some(s) = &self.session else {
            return;
        };
        let ended = status.is_terminal().then(clock::wall);
        let job = session::job_state(s, status, self.progress, s.started_at, ended, error);
        self.job = Some(job.clone());
        self.broadcast(&Event::JobState { job });
    }

    /// The replay camera's config, built from the source camera and checked
    /// the way the NVR will check it.
    pub(super) fn replay_config(&self, source: &str, clip: &Path) -> Result<Mapping, CameraError> {
        let nvr = &self.loaded.nvr;
        let replay = camera::replay_camera_name(source);
        let config = camera::build(nvr, source, clip)?;
        camera::validate(nvr, &replay, &config)?;
        Ok(config)
    }

    /// Writes `cameras/<replay>.yml` (publish and resume alike); the
    /// `camera add` event is the caller's.
    pub(super) fn write_camera_file(
        &self,
        source: &str,
        replay: &str,
        clip: &Path,
    ) -> Result<Mapping, String> {
        let config = self
            .replay_config(source, clip)
            .map_err(|e| format!("the replay camera config is invalid: {e}"))?;
        let file = self.camera_file(replay);
        let text = camera::published_document(replay, &config);
        write_atomic(&file, text.as_bytes(), 0o644)
            .map_err(|e| format!("cannot publish {}: {e}", file.display()))?;
        Ok(config)
    }

    pub(super) fn camera_file(&self, replay: &str) -> PathBuf {
        self.loaded
            .config
            .runtime
            .dir
            .join("cameras")
            .join(format!("{replay}.yml"))
    }
}

fn read_probe(child: &mut Child, out: &mut Vec<u8>) {
    let mut bytes = Vec::new();
    child.read_stdout(&mut bytes);
    let room = PROBE_OUTPUT_MAX.saturating_sub(out.len());
    out.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn with_stderr(message: String, tail: &str) -> String {
    if tail.is_empty() {
        message
    } else {
        format!("{message}: {tail}")
    }
}

pub(super) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

pub(super) fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// The concat list: private to the daemon and its ffmpeg, and rewritten
/// before every run, so no atomic replace is needed.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)?;
    file.write_all(bytes)
}
