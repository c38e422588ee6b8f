//! The control protocol, version 1, shared by `replayd` and `replayctl`.
//!
//! One JSON object per line (UTF-8, at most [`MAX_LINE`] bytes), exactly one
//! response line per request, in order. Events are pushed to subscribers as
//! lines of their own. The wire format is documented in `docs/protocol.md`;
//! fields are only ever added with defaults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Bumped only for incompatible changes; new fields with defaults do not count.
pub const PROTOCOL_VERSION: u32 = 2;

/// Longest request or response line accepted, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// The `job_type` of every job replayd reports (Frigate's name for it).
pub const JOB_TYPE: &str = "debug_replay";

/// The id of the synthetic terminal job state emitted by `stop`.
pub const STOPPED_JOB_ID: &str = "stopped";

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Unknown fields are refused by `decode_request` (`allowed_fields`): serde
// cannot deny them on an enum whose variants flatten `StartOptions`.
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// `{"cmd":"ping"}` → `{"ok":true,"version":"0.1.0","protocol":1}`
    Ping,
    /// `{"cmd":"status"}` → `{"ok":true,"session":{..},"job":{..}|null,"last_summary":{..}|null}`
    Status,
    /// `{"cmd":"start","camera":"front","start_time":1700000000.0,"end_time":1700000060.0}`
    /// → `{"ok":true,"replay_camera":"_replay_front","job_id":"..."}`
    Start {
        camera: String,
        start_time: f64,
        end_time: f64,
        #[serde(flatten)]
        options: StartOptions,
    },
    /// `{"cmd":"start_from_export","export_id":"front_1700000000-abc"}` → as `start`
    StartFromExport {
        export_id: String,
        #[serde(flatten)]
        options: StartOptions,
    },
    /// `{"cmd":"start_from_file","camera":"front","path":"bug-1234.mp4"}` → as
    /// `start`; `path` is relative to `session.import_dir`.
    StartFromFile {
        camera: String,
        path: String,
        #[serde(flatten)]
        options: StartOptions,
    },
    /// `{"cmd":"update","overrides":{"motion":{"threshold":30}},"reset":["zones.yard"]}`
    /// → `{"ok":true,"overrides":{..},"changed":["motion"]}`
    Update {
        #[serde(default)]
        overrides: Option<serde_json::Value>,
        #[serde(default)]
        reset: Vec<String>,
    },
    /// `{"cmd":"apply","sections":["motion"]}` → `{"ok":true,"applied":{..},"restart_needed":[..]}`
    /// (no `sections`, or an empty list: every section the overrides touch)
    Apply {
        #[serde(default)]
        sections: Vec<String>,
    },
    /// `{"cmd":"stop"}` → `{"ok":true,"summary":{..}}` once cleanup is done
    Stop,
    /// `{"cmd":"subscribe"}` → `{"ok":true}`, then event lines until the client leaves
    Subscribe,
}

impl Request {
    /// Whether the request changes the session (start/stop need authorization).
    pub fn is_privileged(&self) -> bool {
        matches!(
            self,
            Request::Start { .. }
                | Request::StartFromExport { .. }
                | Request::StartFromFile { .. }
                | Request::Update { .. }
                | Request::Apply { .. }
                | Request::Stop
        )
    }
}

/// What every kind of start may add (protocol 2): the replay's speed, the
/// overrides merged over the source camera's settings, and the clip mode.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StartOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_mode: Option<crate::config::ClipMode>,
}

/// The error codes of protocol version 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, unknown `cmd`, unknown field, line too long.
    InvalidRequest,
    /// A known request whose fields have the wrong type or value.
    InvalidParams,
    /// The camera or export does not exist.
    NotFound,
    /// No recording overlaps the requested range.
    NoRecordings,
    /// The replay directory's file system has no room for the clip.
    NoSpace,
    /// A session is already active (or being stopped).
    AlreadyActive,
    /// Stop with no active session.
    NotActive,
    /// The peer may not start or stop sessions.
    PermissionDenied,
    /// The configured publisher cannot do this.
    Unsupported,
    /// The NVR's API could not be reached, timed out, or refused replayd's credentials.
    NvrUnavailable,
    /// The NVR answered and rejected the camera or change: its message is passed on.
    NvrRefused,
    /// Something failed inside replayd; the message says what.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NoRecordings => "no_recordings",
            ErrorCode::NoSpace => "no_space",
            ErrorCode::AlreadyActive => "already_active",
            ErrorCode::NotActive => "not_active",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::NvrUnavailable => "nvr_unavailable",
            ErrorCode::NvrRefused => "nvr_refused",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"code":"not_found","message":"camera 'x' is not in the NVR config"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

/// Session states, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Idle,
    PreparingClip,
    StartingCamera,
    Ready,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Idle => "idle",
            SessionState::PreparingClip => "preparing_clip",
            SessionState::StartingCamera => "starting_camera",
            SessionState::Ready => "ready",
        }
    }
}

/// SESSION: `{"active":true,"state":"ready","replay_camera":"_replay_front",
/// "source_camera":"front","start_time":F,"end_time":F,"started_at":F,
/// "auto_stop_at":F,"clip_path":"/media/frigate/clips/replay/_replay_front.mp4"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub active: bool,
    pub state: SessionState,
    pub replay_camera: Option<String>,
    pub source_camera: Option<String>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub started_at: Option<f64>,
    pub auto_stop_at: Option<f64>,
    pub clip_path: Option<String>,
    /// Protocol 2: `"link"` or `"copy"`, null when idle.
    #[serde(default)]
    pub clip_mode: Option<String>,
    #[serde(default)]
    pub clip_mode_reason: Option<String>,
    #[serde(default)]
    pub linked_bytes: Option<u64>,
    #[serde(default)]
    pub speed: Option<f64>,
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
    /// Where a person watches the replay camera's detection.
    #[serde(default)]
    pub view_url: Option<String>,
    #[serde(default)]
    pub source: Option<SourceView>,
    /// What the session went ahead despite (skipped segments, a detect size
    /// taken from the clip).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `{"kind":"recordings"|"export"|"file","export_id":S?,"path":S?}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl SessionView {
    pub fn idle() -> Self {
        SessionView {
            active: false,
            state: SessionState::Idle,
            replay_camera: None,
            source_camera: None,
            start_time: None,
            end_time: None,
            started_at: None,
            auto_stop_at: None,
            clip_path: None,
            clip_mode: None,
            clip_mode_reason: None,
            linked_bytes: None,
            speed: None,
            overrides: None,
            view_url: None,
            source: None,
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Success,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// Frigate's job-state `results` of a debug replay job. The terminal state
/// emitted by `stop` carries only the two camera names.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobResults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<f64>,
    pub source_camera: String,
    pub replay_camera_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ts: Option<f64>,
}

/// JOB: `{"id":"..","job_type":"debug_replay","status":"running","start_time":F,
/// "end_time":null,"error_message":null,"results":{..}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub error_message: Option<String>,
    pub results: JobResults,
}

/// `{"alert":N,"detection":N}`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReviewCounts {
    pub alert: u64,
    pub detection: u64,
}

/// SUMMARY: what a replay produced, taken before cleanup deletes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub replay_camera: String,
    pub duration_s: f64,
    pub events: u64,
    pub events_by_label: BTreeMap<String, u64>,
    pub review_segments: ReviewCounts,
    pub files_removed: u64,
    pub rows_removed: u64,
    /// Protocol 2: the overrides the session ran with (null: none).
    #[serde(default)]
    pub overrides: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraAction {
    Add,
    /// Protocol 2: a live update of the running replay camera.
    Update,
    Remove,
}

/// A line pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `{"event":"job_state","job":JOB}`
    JobState { job: Job },
    /// `{"event":"camera","action":"add","camera":"_replay_front","config":{..}}`
    /// (`config` is null for `remove`)
    Camera {
        action: CameraAction,
        camera: String,
        config: Option<serde_json::Value>,
        /// Protocol 2: the sections an `update` changed (null otherwise).
        #[serde(default)]
        sections: Option<Vec<String>>,
    },
    /// `{"event":"summary","summary":SUMMARY}`
    Summary { summary: Summary },
}

/// Success body of `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    pub version: String,
    pub protocol: u32,
    /// Protocol 2: `"file"` or `"frigate"`.
    #[serde(default)]
    pub publisher: Option<String>,
}

/// Success body of `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    pub session: SessionView,
    pub job: Option<Job>,
    pub last_summary: Option<Summary>,
    /// Protocol 2: replay cameras whose removal from the NVR is still owed.
    #[serde(default)]
    pub pending_removals: Vec<String>,
}

/// Success body of `start` and `start_from_export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartReply {
    pub replay_camera: String,
    pub job_id: String,
}

/// Success body of `update`: the session's overrides now, and the sections
/// of the replay camera that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateReply {
    pub overrides: serde_json::Value,
    pub changed: Vec<String>,
}

/// One applied key: the source camera's value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// Success body of `apply`: per section, per key (a dotted path inside the
/// section), the value before and after; and the sections the running NVR
/// only takes at its next restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApplyReply {
    pub applied: BTreeMap<String, BTreeMap<String, BeforeAfter>>,
    pub restart_needed: Vec<String>,
}

/// Success body of `stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopReply {
    pub summary: Summary,
    /// Protocol 2: what the stop went ahead despite (the NVR unreachable).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// The fields each command accepts besides `cmd`.
fn allowed_fields(cmd: &str) -> Option<&'static [&'static str]> {
    Some(match cmd {
        "ping" | "status" | "stop" | "subscribe" => &[],
        "start" => &[
            "camera",
            "start_time",
            "end_time",
            "speed",
            "overrides",
            "clip_mode",
        ],
        "start_from_export" => &["export_id", "speed", "overrides", "clip_mode"],
        "start_from_file" => &["camera", "path", "speed", "overrides", "clip_mode"],
        "update" => &["overrides", "reset"],
        "apply" => &["sections"],
        _ => return None,
    })
}

/// Decodes one request line (without its newline).
///
/// Framing and shape problems (not UTF-8, not JSON, not an object, unknown
/// `cmd` or field) are `invalid_request`; a known request whose fields have
/// the wrong type or are missing is `invalid_params`.
pub fn decode_request(line: &[u8]) -> Result<Request, ErrorBody> {
    let text = std::str::from_utf8(line)
        .map_err(|_| ErrorBody::new(ErrorCode::InvalidRequest, "request is not UTF-8"))?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("request is not valid JSON: {}", bounded(&e.to_string())),
        )
    })?;
    let object = value.as_object().ok_or_else(|| {
        ErrorBody::new(ErrorCode::InvalidRequest, "request must be a JSON object")
    })?;
    let cmd = match object.get("cmd") {
        Some(serde_json::Value::String(cmd)) => cmd.as_str(),
        Some(_) => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                "field 'cmd' must be a string",
            ))
        }
        None => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                "request has no 'cmd' field",
            ))
        }
    };
    let allowed = allowed_fields(cmd).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("unknown cmd '{}'", printable(cmd)),
        )
    })?;
    if let Some(unknown) = object
        .keys()
        .find(|k| k.as_str() != "cmd" && !allowed.contains(&k.as_str()))
    {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("unknown field '{}' for cmd '{cmd}'", printable(unknown)),
        ));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        ErrorBody::new(
            ErrorCode::InvalidParams,
            format!("bad parameters for '{cmd}': {}", bounded(&e.to_string())),
        )
    })
}

/// serde's messages quote the offending value: cap them so an error reply
/// stays far below the line limit whatever the peer sent.
fn bounded(message: &str) -> String {
    const CAP: usize = 256;
    if message.len() <= CAP {
        return message.to_string();
    }
    let mut end = CAP;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

/// Echoing peer input into messages and logs: cap its length and escape
/// control characters so a hostile name cannot forge log lines.
pub fn printable(s: &str) -> String {
    const CAP: usize = 64;
    let mut out: String = s.chars().take(CAP).flat_map(char::escape_default).collect();
    if s.chars().count() > CAP {
        out.push('…');
    }
    out
}

/// Encodes a success response: the body's fields plus `"ok":true`.
pub fn encode_ok<T: Serialize>(body: &T) -> String {
    // Spliced as text rather than through a serde_json::Value tree: status
    // is the hot request, and the tree was half of its cost.
    let body = serde_json::to_string(body).unwrap_or_default();
    let mut line = String::with_capacity(body.len() + 12);
    line.push_str("{\"ok\":true");
    match body.strip_prefix('{') {
        Some(rest) if rest != "}" => {
            line.push(',');
            line.push_str(rest);
        }
        _ => line.push('}'),
    }
    line.push('\n');
    line
}

/// Encodes `{"ok":true}` alone (subscribe).
pub fn encode_ok_empty() -> String {
    "{\"ok\":true}\n".to_string()
}

/// Encodes a failure response.
pub fn encode_error(error: &ErrorBody) -> String {
    let mut line = serde_json::json!({ "ok": false, "error": error }).to_string();
    line.push('\n');
    line
}

/// Encodes an event line.
pub fn encode_event(event: &Event) -> String {
    let mut line = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// Encodes a request line (client side).
pub fn encode_request(request: &Request) -> String {
    let mut line = serde_json::to_string(request).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// A response line as the client sees it: the success body, or the error.
pub fn decode_response(line: &str) -> Result<Result<serde_json::Value, ErrorBody>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("response is not JSON: {e}"))?;
    match value.get("ok") {
        Some(serde_json::Value::Bool(true)) => Ok(Ok(value)),
        Some(serde_json::Value::Bool(false)) => {
            let error = value
                .get("error")
                .cloned()
                .ok_or_else(|| "error response without 'error'".to_string())?;
            serde_json::from_value(error)
                .map(Err)
                .map_err(|e| format!("malformed error response: {e}"))
        }
        _ => Err("response has no boolean 'ok'".into()),
    }
}

/// What the line reader produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete line, newline (and a trailing `\r`) removed.
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE`]; its bytes up to the next newline are
    /// discarded so the connection can carry on with the next request.
    TooLong,
}

/// Splits a byte stream into lines while never holding more than
/// `MAX_LINE` + one read's worth of bytes.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    discarding: bool,
    max: usize,
}

impl LineReader {
    pub fn new() -> Self {
        Self::with_max(MAX_LINE)
    }

    pub fn with_max(max: usize) -> Self {
        LineReader {
            buf: Vec::new(),
            discarding: false,
            max,
        }
    }

    /// Adds bytes just read from the peer.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.discarding {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.discarding = false;
                    data = &data[i + 1..];
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > self.max {
                return Some(Frame::TooLong);
            }
            return Some(Frame::Line(line));
        }
        // A line of exactly `max` bytes may still be waiting for the "\n" of its "\r\n".
        let limit = if self.buf.last() == Some(&b'\r') {
            self.max + 1
        } else {
            self.max
        };
        if self.buf.len() > limit {
            self.buf = Vec::new();
            self.discarding = true;
            return Some(Frame::TooLong);
        }
        None
    }

    /// Bytes held that do not form a complete line yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests;
