//! Requests: everything is validated before a session is accepted.

use std::fs;
use std::process::ExitStatus;

use crate::nvr::db::Recording;
use crate::protocol::{
    self, JobStatus, Pong, Request, SessionState, SessionView, StartReply, StatusReply,
    PROTOCOL_VERSION,
};
use crate::replay::camera::{self, REPLAY_PREFIX};
use crate::replay::clip::{self, ClipPlan, Segment, VideoParams};
use crate::replay::mp4::{self, Mp4Error};
use crate::replay::session::{ClipSource, Session};

use super::child::{Child, Priority};
use super::clock;
use super::control;
use super::errors::{error_body, RequestError};
use super::job::{describe, ExportCheck, Probe, Work};
use super::Daemon;

/// Free space kept beyond the clip's size: 5% plus 16 MiB.
fn space_margin(need: u64) -> u64 {
    need / 20 + 16 * 1024 * 1024
}

impl Daemon {
    /// Answers a request now (`Some`) or later (`None`: the client waits).
    pub(super) fn handle_request(&mut self, id: u64, request: Request) -> Option<String> {
        let result = self.route(id, request);
        match result {
            Ok(reply) => reply,
            Err(error) => {
                log::info!("request refused: {error}");
                Some(protocol::encode_error(&error_body(&error)))
            }
        }
    }

    fn route(&mut self, id: u64, request: Request) -> Result<Option<String>, RequestError> {
        if request.is_privileged() {
            let peer = self.clients.get(&id).map(|c| c.peer.clone());
            if !peer.is_some_and(|p| control::is_admin(&p, self.admin_gid)) {
                return Err(RequestError::PermissionDenied(
                    self.loaded.config.control.admin_group.clone(),
                ));
            }
        }
        match request {
            Request::Ping => Ok(Some(protocol::encode_ok(&Pong {
                version: env!("CARGO_PKG_VERSION").to_string(),
                protocol: PROTOCOL_VERSION,
            }))),
            Request::Status => Ok(Some(protocol::encode_ok(&StatusReply {
                session: self
                    .session
                    .as_ref()
                    .map_or_else(SessionView::idle, Session::view),
                job: self.job.clone(),
                last_summary: self.last_summary.clone(),
            }))),
            Request::Subscribe => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.subscribed = true;
                }
                Ok(Some(protocol::encode_ok_empty()))
            }
            Request::Start {
                camera,
                start_time,
                end_time,
            } => {
                let reply = self.start_recordings(&camera, start_time, end_time)?;
                Ok(Some(protocol::encode_ok(&reply)))
            }
            Request::StartFromExport { export_id } => {
                self.probe_export(id, &export_id)?;
                Ok(None)
            }
            Request::Stop => {
                if self.session.is_none() {
                    return Err(RequestError::NotActive);
                }
                if let Some(client) = self.clients.get_mut(&id) {
                    client.awaiting_reply = true;
                }
                self.begin_stop(Some(id));
                Ok(None)
            }
        }
    }

    /// Start and stop exclude each other: one session, one start at a time.
    fn ensure_idle(&self) -> Result<(), RequestError> {
        if let Some(s) = &self.session {
            let doing = if self.stop_waiters.is_some() {
                "being stopped"
            } else {
                s.state.as_str()
            };
            return Err(RequestError::AlreadyActive(format!(
                "{} from {}, {doing}",
                s.replay_camera, s.source_camera
            )));
        }
        if matches!(self.work, Work::ExportProbe(_)) {
            return Err(RequestError::AlreadyActive(
                "a start from an export is being checked".into(),
            ));
        }
        Ok(())
    }

    fn check_source_camera(&self, camera: &str) -> Result<(), RequestError> {
        if !camera::is_valid_camera_name(camera) {
            return Err(RequestError::InvalidParams(format!(
                "camera name '{}' is invalid: only letters, digits, '_' and '-' are allowed",
                protocol::printable(camera)
            )));
        }
        if camera.starts_with(REPLAY_PREFIX) {
            return Err(RequestError::InvalidParams(format!(
                "camera '{camera}' is itself a replay camera"
            )));
        }
        if !self.loaded.nvr.has_camera(camera) {
            return Err(RequestError::NotFound(format!(
                "camera '{camera}' is not in the NVR config {}",
                self.loaded.nvr.path().display()
            )));
        }
        // Refuse now what would be refused after the whole clip was cut.
        let placeholder = self.clip_paths(&camera::replay_camera_name(camera)).clip;
        self.replay_config(camera, &placeholder)
            .map(drop)
            .map_err(|e| {
                RequestError::InvalidParams(format!("camera '{camera}' cannot be replayed: {e}"))
            })
    }

    fn start_recordings(
        &mut self,
        camera: &str,
        start: f64,
        end: f64,
    ) -> Result<StartReply, RequestError> {
        self.ensure_idle()?;
        self.check_source_camera(camera)?;
        if !start.is_finite() || !end.is_finite() {
            return Err(RequestError::InvalidParams(
                "start_time and end_time must be finite numbers".into(),
            ));
        }
        if end <= start {
            return Err(RequestError::InvalidParams(format!(
                "end_time ({end}) must be after start_time ({start})"
            )));
        }
        let max_range = self.loaded.config.session.max_range.as_secs_f64();
        if end - start > max_range {
            return Err(RequestError::InvalidParams(format!(
                "range of {:.0}s is longer than session.max_range ({max_range:.0}s)",
                end - start
            )));
        }
        let recordings = self.open_db()?.recordings(camera, start, end)?;
        if recordings.is_empty() {
            return Err(RequestError::NoRecordings {
                camera: camera.to_string(),
                start,
                end,
            });
        }
        let (segments, bytes) = usable_segments(camera, &recordings);
        self.check_space(bytes)?;
        let plan = clip::plan(&segments, start, end);
        Ok(self.accept(camera, start, end, ClipSource::Recordings, plan))
    }

    /// Fails with `no_space` unless the replay dir's file system holds `need` plus a margin.
    fn check_space(&self, need: u64) -> Result<(), RequestError> {
        let dir = self.replay_dir();
        fs::create_dir_all(&dir)
            .map_err(|e| RequestError::io(format!("cannot create {}", dir.display()), e))?;
        let stat = nix::sys::statvfs::statvfs(&dir).map_err(|e| {
            RequestError::io(
                format!("cannot check free space of {}", dir.display()),
                e.into(),
            )
        })?;
        let available =
            (stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64);
        let want = need.saturating_add(space_margin(need));
        if available < want {
            return Err(RequestError::NoSpace {
                dir,
                need: want,
                available,
            });
        }
        Ok(())
    }

    /// Accepting: the session is active at once and persisted, then the job starts.
    fn accept(
        &mut self,
        camera: &str,
        start: f64,
        end: f64,
        source: ClipSource,
        plan: ClipPlan,
    ) -> StartReply {
        let max = self.loaded.config.session.max_duration.as_secs_f64();
        let now = clock::wall();
        let session = Session {
            replay_camera: camera::replay_camera_name(camera),
            source_camera: camera.to_string(),
            source,
            start_time: start,
            end_time: end,
            started_at: now,
            auto_stop_at: now + max,
            deadline: clock::boottime() + max,
            state: SessionState::PreparingClip,
            clip_path: None,
            published: false,
            job_id: new_job_id(),
            interruptions: 0,
            ffmpeg: None,
            stopping: false,
        };
        let reply = StartReply {
            replay_camera: session.replay_camera.clone(),
            job_id: session.job_id.clone(),
        };
        log::info!(
            "session accepted: {} from {} over {start:.3}..{end:.3} ({:.0}s), job {}",
            session.replay_camera,
            session.source_camera,
            end - start,
            session.job_id
        );
        self.session = Some(session);
        self.progress = 0.0;
        self.throttle.reset();
        self.last_summary = None;
        self.persist();
        self.emit_job(JobStatus::Running, None);
        self.start_clip(plan, 0);
        reply
    }

    /// start_from_export: the export's duration comes from ffprobe, so the
    /// reply waits for it (the loop keeps serving everyone else).
    fn probe_export(&mut self, client: u64, export_id: &str) -> Result<(), RequestError> {
        self.ensure_idle()?;
        let export = self.open_db()?.export(export_id)?.ok_or_else(|| {
            RequestError::NotFound(format!(
                "export '{}' does not exist",
                protocol::printable(export_id)
            ))
        })?;
        self.check_source_camera(&export.camera)
            .map_err(|e| match e {
                RequestError::NotFound(_) => RequestError::NotFound(format!(
                    "the camera of export '{}' ({}) is not in the NVR config",
                    export.id, export.camera
                )),
                other => other,
            })?;
        if export.in_progress {
            return Err(RequestError::InvalidParams(format!(
                "export '{}' is still being written",
                export.id
            )));
        }
        if !export.video_path.is_file() {
            return Err(RequestError::NotFound(format!(
                "the video of export '{}' ({}) does not exist",
                export.id,
                export.video_path.display()
            )));
        }
        let program = self.loaded.config.ffmpeg.ffprobe.clone();
        let child = Child::spawn(
            "ffprobe",
            &program,
            &clip::ffprobe_duration_args(&export.video_path),
            Priority::Normal,
        )
        .map_err(|e| RequestError::io(format!("cannot run ffprobe ({})", program.display()), e))?;
        if let Some(c) = self.clients.get_mut(&client) {
            c.awaiting_reply = true;
        }
        self.work = Work::ExportProbe(Probe {
            child,
            stdout: Vec::new(),
            started: clock::boottime(),
            kill_at: None,
            failure: None,
            what: ExportCheck { client, export },
            rebuilds: 0,
        });
        Ok(())
    }

    pub(super) fn on_export_probed(&mut self, probe: Probe<ExportCheck>, status: ExitStatus) {
        let client = probe.what.client;
        let result = self.accept_export(&probe, status);
        let line = match result {
            Ok(reply) => protocol::encode_ok(&reply),
            Err(error) => {
                log::info!("start_from_export refused: {error}");
                protocol::encode_error(&error_body(&error))
            }
        };
        self.complete_reply(client, &line);
    }

    fn accept_export(
        &mut self,
        probe: &Probe<ExportCheck>,
        status: ExitStatus,
    ) -> Result<StartReply, RequestError> {
        let export = &probe.what.export;
        let duration = std::str::from_utf8(&probe.stdout)
            .ok()
            .and_then(clip::parse_probe_duration)
            .filter(|d| status.success() && *d > 0.0);
        let Some(duration) = duration else {
            let why = probe.failure.clone().unwrap_or_else(|| describe(status));
            return Err(RequestError::InvalidParams(format!(
                "cannot read the duration of export '{}' ({why}): {}",
                export.id,
                probe.child.stderr_tail()
            )));
        };
        let max_range = self.loaded.config.session.max_range.as_secs_f64();
        if duration > max_range {
            return Err(RequestError::InvalidParams(format!(
                "export '{}' is {duration:.0}s long, more than session.max_range ({max_range:.0}s)",
                export.id
            )));
        }
        let size = fs::metadata(&export.video_path)
            .map(|m| m.len())
            .unwrap_or(0);
        self.check_space(size)?;
        let plan = clip::plan_whole_file(&export.video_path, duration);
        let source = ClipSource::Export {
            export_id: export.id.clone(),
            video_path: export.video_path.clone(),
        };
        let camera = export.camera.clone();
        Ok(self.accept(&camera, export.date, export.date + duration, source, plan))
    }

    /// The clip plan of a session being (re)prepared.
    pub(super) fn plan_for(&self, session: &Session) -> Result<ClipPlan, RequestError> {
        match &session.source {
            ClipSource::Recordings => {
                let recordings = self.open_db()?.recordings(
                    &session.source_camera,
                    session.start_time,
                    session.end_time,
                )?;
                let (segments, _) = usable_segments(&session.source_camera, &recordings);
                Ok(clip::plan(&segments, session.start_time, session.end_time))
            }
            ClipSource::Export { video_path, .. } => Ok(clip::plan_whole_file(
                video_path,
                session.end_time - session.start_time,
            )),
        }
    }
}

/// Segments whose files exist and are non-empty, with their total size.
/// Missing or empty ones are skipped with a warning naming them, and so are
/// segments whose video parameters cannot follow the first segment's in a
/// stream copy (a resolution change would give a broken clip).
fn usable_segments(camera: &str, recordings: &[Recording]) -> (Vec<Segment>, u64) {
    let mut segments = Vec::with_capacity(recordings.len());
    let mut bytes = 0u64;
    let mut first: Option<VideoParams> = None;
    for r in recordings {
        match fs::metadata(&r.path) {
            Ok(meta) if meta.is_file() && meta.len() > 0 => {
                // Unreadable headers are left to ffmpeg and the duration check.
                if let Ok(params) = fs::File::open(&r.path)
                    .map_err(Mp4Error::from)
                    .and_then(mp4::video_params)
                {
                    match &first {
                        None => first = Some(params),
                        Some(reference) if !params.concatenable_after(reference) => {
                            log::warn!(
                                "skipping recording segment {} of camera {camera}: {} {}x{} cannot follow the clip's {} {}x{}",
                                r.path.display(),
                                params.codec,
                                params.width,
                                params.height,
                                reference.codec,
                                reference.width,
                                reference.height
                            );
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                bytes += meta.len();
                segments.push(Segment {
                    path: r.path.clone(),
                    start_time: r.start_time,
                    end_time: r.end_time,
                });
            }
            Ok(_) => log::warn!(
                "skipping empty recording segment {} of camera {camera}",
                r.path.display()
            ),
            Err(e) => log::warn!(
                "skipping recording segment {} of camera {camera}: {e}",
                r.path.display()
            ),
        }
    }
    (segments, bytes)
}

/// A job id like Frigate's: time-ordered and unique enough to tell jobs apart.
fn new_job_id() -> String {
    let mut random = [0u8; 4];
    // getrandom(2) cannot fail for 4 bytes once the pool is up; zeros are still a valid id.
    // SAFETY: the buffer is valid for its length.
    unsafe {
        libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0);
    }
    format!(
        "{:.0}-{:02x}{:02x}{:02x}{:02x}",
        clock::wall() * 1000.0,
        random[0],
        random[1],
        random[2],
        random[3]
    )
}
