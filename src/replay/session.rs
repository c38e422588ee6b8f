//! The replay session: what it is, what it reports, and the job states it
//! emits. Pure: no clock or IO here; times come in as arguments.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::protocol::{
    Job, JobResults, JobStatus, SessionState, SessionView, SourceView, JOB_TYPE, STOPPED_JOB_ID,
};
use crate::replay::link::Mode;

/// Where the clip comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClipSource {
    /// The source camera's recordings overlapping [start_time, end_time].
    Recordings,
    /// One export's file, copied whole.
    Export {
        export_id: String,
        video_path: PathBuf,
    },
    /// A file of the import dir (`name` as the request gave it, relative to
    /// the import dir; `path` this host's), replayed whole.
    File { name: String, path: PathBuf },
}

/// An ffmpeg the session started: pid plus start time (clock ticks since
/// boot) identify it across a daemon restart, even if the pid is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRecord {
    pub pid: u32,
    pub start_ticks: u64,
}

/// The one active session. Serialized as-is into session.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub replay_camera: String,
    pub source_camera: String,
    pub source: ClipSource,
    pub start_time: f64,
    pub end_time: f64,
    /// Wall clock at acceptance (display only).
    pub started_at: f64,
    /// Wall clock of the auto-stop (display only).
    pub auto_stop_at: f64,
    /// Boot-time clock of the auto-stop: what the timer is armed to.
    pub deadline: f64,
    pub clip_path: Option<PathBuf>,
    /// Whether `camera add` was published (and so `camera remove` is owed).
    pub published: bool,
    pub job_id: String,
    /// How many times a preparation was interrupted by a daemon death.
    #[serde(default)]
    pub interruptions: u32,
    #[serde(default)]
    pub ffmpeg: Option<ChildRecord>,
    /// The detect size the running NVR found for the source camera, for a
    /// source config that does not say.
    #[serde(default)]
    pub detect_size: Option<(u32, u32)>,
    /// What the session went ahead despite, for `status`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The rate the replay camera reads its input at (SPEC §2 "speed").
    #[serde(default = "normal_speed")]
    pub speed: f64,
    /// The operator's changes over the source camera's settings
    /// (SPEC §2 "overrides", cumulative through `update`).
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// How the footage is prepared (SPEC §2 "clip modes"); a session.json
    /// from before link mode was copy.
    #[serde(default)]
    pub clip_mode: Mode,
    /// Why link mode is not used (status `clip_mode_reason`).
    #[serde(default)]
    pub clip_mode_reason: Option<String>,
    /// `clip_mode = link` was asked for: a link refused fails the job
    /// instead of falling back to copy.
    #[serde(default)]
    pub link_forced: bool,
    /// Bytes the links hold (link mode), as linked so far.
    #[serde(default)]
    pub linked_bytes: Option<u64>,
}

fn normal_speed() -> f64 {
    1.0
}

/// What session.json holds: the session and where the lifecycle was with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedSession {
    pub state: SessionState,
    /// A stop was requested: a daemon that dies mid-stop finishes it at restart
    /// instead of resuming the session.
    #[serde(default)]
    pub stopping: bool,
    #[serde(flatten)]
    pub session: Session,
}

/// Why a session read back from session.json is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session.json: {0}")]
pub struct TamperedSession(String);

impl PersistedSession {
    /// Every field read back is checked before it is used: names by the
    /// camera-name rule and `prefix + source`, times finite, stored paths
    /// absolute and without `..` (the file is the daemon's own, but a
    /// tampered one must not make it write or delete outside its folders).
    pub fn validate(&self, prefix: &str) -> Result<(), TamperedSession> {
        let s = &self.session;
        let bad = |what: String| Err(TamperedSession(what));
        if !crate::replay::names::is_valid(&s.source_camera) || s.source_camera.starts_with(prefix)
        {
            return bad(format!(
                "source_camera {:?} is not a camera name",
                s.source_camera
            ));
        }
        if s.replay_camera != format!("{prefix}{}", s.source_camera) {
            return bad(format!(
                "replay_camera {:?} is not {prefix}{}",
                s.replay_camera, s.source_camera
            ));
        }
        let times = [
            s.start_time,
            s.end_time,
            s.started_at,
            s.auto_stop_at,
            s.deadline,
        ];
        if times.iter().any(|t| !t.is_finite()) || s.end_time <= s.start_time {
            return bad("a time is not a finite number, or the range is empty".into());
        }
        if s.job_id.is_empty()
            || s.job_id.len() > 64
            || !s
                .job_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad(format!("job_id {:?} is not a job id", s.job_id));
        }
        let plain = |p: &std::path::Path| {
            p.is_absolute()
                && !p
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
        };
        if let ClipSource::Export {
            export_id,
            video_path,
        } = &s.source
        {
            if !plain(video_path) || export_id.is_empty() || export_id.len() > 255 {
                return bad("the export's id or video path is not one".into());
            }
        }
        if s.clip_path.as_deref().is_some_and(|p| !plain(p)) {
            return bad("clip_path is not a plain absolute path".into());
        }
        if s.clip_mode_reason.as_ref().is_some_and(|r| r.len() > 8192) {
            return bad("clip_mode_reason is too long".into());
        }
        if s.clip_mode == Mode::Copy && s.linked_bytes.is_some() {
            return bad("linked_bytes of a session in copy mode".into());
        }
        if s.warnings.len() > 1000 {
            return bad("too many warnings".into());
        }
        if let ClipSource::File { name, path } = &s.source {
            if !plain(path) || name.is_empty() || name.len() > 4096 {
                return bad("the imported file's name or path is not one".into());
            }
        }
        if let Err(e) = crate::replay::overrides::check_speed(s.speed) {
            return bad(e);
        }
        if let Some(overrides) = &s.overrides {
            crate::replay::overrides::check_shape(overrides)
                .map_err(|e| TamperedSession(e.to_string()))?;
        }
        Ok(())
    }
}

/// How the replay camera departs from its source: the rate it reads its
/// input at and the operator's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub speed: f64,
    pub overrides: Option<serde_json::Value>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            speed: 1.0,
            overrides: None,
        }
    }
}

impl Session {
    pub fn tuning(&self) -> Tuning {
        Tuning {
            speed: self.speed,
            overrides: self.overrides.clone(),
        }
    }

    pub fn view(&self, state: SessionState) -> SessionView {
        SessionView {
            active: true,
            state,
            replay_camera: Some(self.replay_camera.clone()),
            source_camera: Some(self.source_camera.clone()),
            start_time: Some(self.start_time),
            end_time: Some(self.end_time),
            started_at: Some(self.started_at),
            auto_stop_at: Some(self.auto_stop_at),
            clip_path: self
                .clip_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            clip_mode: Some(self.clip_mode.as_str().to_string()),
            clip_mode_reason: self.clip_mode_reason.clone(),
            linked_bytes: self.linked_bytes,
            speed: Some(self.speed),
            overrides: self.overrides.clone(),
            view_url: None,
            source: Some(match &self.source {
                ClipSource::Recordings => SourceView {
                    kind: "recordings".into(),
                    export_id: None,
                    path: None,
                },
                ClipSource::Export {
                    export_id,
                    video_path,
                } => SourceView {
                    kind: "export".into(),
                    export_id: Some(export_id.clone()),
                    path: Some(video_path.to_string_lossy().into_owned()),
                },
                ClipSource::File { name, .. } => SourceView {
                    kind: "file".into(),
                    export_id: None,
                    path: Some(name.clone()),
                },
            }),
            warnings: self.warnings.clone(),
        }
    }

    /// Seconds of footage requested.
    pub fn range(&self) -> f64 {
        self.end_time - self.start_time
    }
}

/// The job-state payload for a session's job.
pub fn job_state(
    session: &Session,
    state: SessionState,
    status: JobStatus,
    progress: f64,
    started_at: f64,
    ended_at: Option<f64>,
    error: Option<String>,
) -> Job {
    let step = match status {
        JobStatus::Success => SessionState::Ready,
        _ => state,
    };
    Job {
        id: session.job_id.clone(),
        job_type: JOB_TYPE.to_string(),
        status,
        start_time: Some(started_at),
        end_time: ended_at,
        error_message: error,
        results: JobResults {
            current_step: Some(step.as_str().to_string()),
            progress_percent: Some(round1(progress)),
            source_camera: session.source_camera.clone(),
            replay_camera_name: session.replay_camera.clone(),
            start_ts: Some(session.start_time),
            end_ts: Some(session.end_time),
        },
    }
}

/// The terminal state `stop` emits: id "stopped", only the camera names.
pub fn stopped_job(source_camera: &str, replay_camera: &str, now: f64) -> Job {
    Job {
        id: STOPPED_JOB_ID.to_string(),
        job_type: JOB_TYPE.to_string(),
        status: JobStatus::Cancelled,
        start_time: None,
        end_time: Some(now),
        error_message: None,
        results: JobResults {
            source_camera: source_camera.to_string(),
            replay_camera_name: replay_camera.to_string(),
            ..Default::default()
        },
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Decides which progress updates are broadcast: at most one a second, plus
/// every step change.
#[derive(Debug, Default)]
pub struct ProgressThrottle {
    last_emit: Option<f64>,
    last_step: Option<SessionState>,
}

impl ProgressThrottle {
    pub fn should_emit(&mut self, now: f64, step: SessionState) -> bool {
        let step_changed = self.last_step != Some(step);
        let due = self.last_emit.is_none_or(|t| now - t >= 1.0);
        if step_changed || due {
            self.last_emit = Some(now);
            self.last_step = Some(step);
            true
        } else {
            false
        }
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(unix: f64) -> String {
    crate::civil::format_utc(unix)
}

/// Like [`format_utc`], with the milliseconds when there are any: two
/// times less than a second apart still read apart.
pub fn format_utc_precise(unix: f64) -> String {
    if !unix.is_finite() {
        return unix.to_string();
    }
    let millis = ((unix - unix.floor()) * 1000.0).round() as u32;
    let text = format_utc(unix);
    if millis == 0 || millis >= 1000 {
        return text;
    }
    let (clock, zone) = text.split_at(text.len() - 4);
    format!("{clock}.{millis:03}{zone}")
}

/// `2026-11-24 10:00:00 UTC .. 10:05:00 UTC` for logs and messages.
pub fn describe_range(start: f64, end: f64) -> String {
    format!(
        "{} .. {}",
        format_utc_precise(start),
        format_utc_precise(end)
    )
}

#[cfg(test)]
mod tests;
