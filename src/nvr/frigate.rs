//! Frigate's runtime camera API, 0.17 and 0.18 (`frigate-api/CONTRACT.md`):
//! the requests replayd sends, how each reply is judged, and the known
//! limits refused before anything is written. Pure: the requests travel
//! through [`super::http::Exchange`], driven by the daemon's loop.
//!
//! A session's calls, in order: [`version`], [`config`] (and on 0.18
//! [`debug_replay_status`]), [`refusal_before_add`], then [`add`];
//! [`update_plan`] and [`apply_requests`] while it runs (each a list of
//! [`ConfigSet`]s); [`remove`] at the end. Each reply goes
//! through [`classify`] with the [`Op`] that sent it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::http::{HttpError, Method, Request, Response};

/// The setting an authentication failure tells the operator to fix.
pub const TOKEN_SETTING: &str = "publish.frigate.token_file";
/// The setting that says where Frigate's API is.
pub const URL_SETTING: &str = "publish.frigate.url";

/// How much of a reply that is not Frigate's JSON is quoted in a message.
const QUOTE_LIMIT: usize = 200;

/// Topics `config/cameras/<name>/<section>` of Frigate 0.17.2's
/// `CameraConfigUpdateEnum` whose payload is the camera's section of that
/// name (`add`, `remove` and the sub-section topics `object_genai`,
/// `review_genai` are not sections).
const SECTION_TOPICS_017: [&str; 13] = [
    "audio",
    "audio_transcription",
    "birdseye",
    "detect",
    "enabled",
    "motion",
    "notifications",
    "objects",
    "record",
    "review",
    "semantic_search",
    "snapshots",
    "zones",
];

/// The same for 0.18 (which also has `autotracking`, a part of `onvif`, and
/// `refresh`, a signal).
const SECTION_TOPICS_018: [&str; 21] = [
    "audio",
    "audio_transcription",
    "birdseye",
    "detect",
    "enabled",
    "face_recognition",
    "ffmpeg",
    "live",
    "lpr",
    "motion",
    "mqtt",
    "notifications",
    "objects",
    "onvif",
    "record",
    "review",
    "semantic_search",
    "snapshots",
    "timestamp_style",
    "ui",
    "zones",
];

/// Frigate's version, from `GET /api/version` (plain text such as
/// `0.17.2-6f0e5b1`, the build's VERSION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// No DELETE route, no Debug Replay, and runtime cameras need at least
    /// two configured ones.
    V017(String),
    V018(String),
    /// A version replayd was not measured against, as Frigate wrote it.
    Other(String),
}

impl Version {
    /// `None` when the text does not start with `MAJOR.MINOR` (an HTML
    /// page, another program).
    pub fn parse(body: &str) -> Option<Version> {
        let text = body.trim().trim_matches('"').trim();
        let mut parts = text.splitn(3, '.');
        let major = parts.next()?.parse::<u32>().ok()?;
        let minor: String = parts
            .next()?
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let minor = minor.parse::<u32>().ok()?;
        let text = text.to_string();
        Some(match (major, minor) {
            (0, 17) => Version::V017(text),
            (0, 18) => Version::V018(text),
            _ => Version::Other(text),
        })
    }

    pub fn text(&self) -> &str {
        match self {
            Version::V017(t) | Version::V018(t) | Version::Other(t) => t,
        }
    }

    /// `GET /api/debug_replay/status` exists (0.18).
    pub fn has_debug_replay(&self) -> bool {
        matches!(self, Version::V018(_))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frigate {}", self.text())
    }
}

/// The request a reply answers: the same status means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Version,
    Config,
    DebugReplayStatus,
    Add,
    Remove,
    UpdateSection,
}

impl Op {
    fn what(self) -> &'static str {
        match self {
            Op::Version => "GET /api/version",
            Op::Config => "GET /api/config",
            Op::DebugReplayStatus => "GET /api/debug_replay/status",
            Op::Add => "the camera",
            Op::Remove => "the camera's removal",
            Op::UpdateSection => "the change",
        }
    }
}

/// What a successful reply says.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Version(Version),
    Config(RunningConfig),
    /// The camera Frigate's own Debug Replay runs, if one is active.
    DebugReplay(Option<String>),
    /// The add or update was applied and announced on Frigate's bus.
    Done,
    Removed,
    /// Remove of a camera Frigate does not have: the goal is reached.
    AlreadyRemoved,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrigateError {
    /// `nvr_unavailable`: not reached, no reply in time, busy, or
    /// replayd's credentials refused. `retry` is true when the same
    /// request may succeed later without anyone changing anything.
    #[error("{message}")]
    Unavailable { message: String, retry: bool },
    /// `nvr_refused`: Frigate answered and rejected the request; its own
    /// message is in `message`.
    #[error("{message}")]
    Refused { message: String },
    /// An add that may have happened although no reply said so: treat the
    /// camera as added, and remove it.
    #[error("{message}")]
    Unknown { message: String },
}

/// What replayd needs of Frigate's running config (`GET /api/config`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunningConfig {
    cameras: BTreeMap<String, RunningCamera>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunningCamera {
    /// The size Frigate detects at (written, or probed at its start).
    pub detect_size: Option<(u32, u32)>,
    /// Where its inputs read from: a replay camera of replayd's reads from
    /// the replay dir.
    pub input_paths: Vec<String>,
}

/// The parts of `GET /api/config` read; everything else is ignored.
#[derive(Deserialize)]
struct ApiConfig {
    cameras: BTreeMap<String, ApiCamera>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiCamera {
    detect: ApiDetect,
    ffmpeg: ApiFfmpeg,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiDetect {
    width: Option<u32>,
    height: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiFfmpeg {
    inputs: Vec<ApiInput>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiInput {
    path: Option<String>,
}

#[derive(Deserialize)]
struct ApiDebugReplay {
    active: bool,
    #[serde(default)]
    replay_camera: Option<String>,
}

impl RunningConfig {
    pub fn parse(body: &[u8]) -> Result<RunningConfig, String> {
        let api: ApiConfig = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let cameras = api
            .cameras
            .into_iter()
            .map(|(name, camera)| {
                let detect_size = match (camera.detect.width, camera.detect.height) {
                    (Some(w), Some(h)) if w > 0 && h > 0 => Some((w, h)),
                    _ => None,
                };
                let input_paths = camera
                    .ffmpeg
                    .inputs
                    .into_iter()
                    .filter_map(|i| i.path)
                    .collect();
                (
                    name,
                    RunningCamera {
                        detect_size,
                        input_paths,
                    },
                )
            })
            .collect();
        Ok(RunningConfig { cameras })
    }

    pub fn camera_names(&self) -> Vec<String> {
        self.cameras.keys().cloned().collect()
    }

    pub fn camera(&self, name: &str) -> Option<&RunningCamera> {
        self.cameras.get(name)
    }

    pub fn has_camera(&self, name: &str) -> bool {
        self.cameras.contains_key(name)
    }

    pub fn detect_size(&self, name: &str) -> Option<(u32, u32)> {
        self.cameras.get(name).and_then(|c| c.detect_size)
    }
}

// ---- requests ----

/// Every read bypasses nginx's 5 s cache: a config read right after a
/// change must show it.
fn read(path: &str) -> Request {
    Request {
        method: Method::Get,
        path: path.to_string(),
        body: None,
        bearer: None,
        cache_bypass: true,
    }
}

pub fn version() -> Request {
    read("/api/version")
}

pub fn config() -> Request {
    read("/api/config")
}

/// 0.18 only ([`Version::has_debug_replay`]).
pub fn debug_replay_status() -> Request {
    read("/api/debug_replay/status")
}

/// `PUT /api/config/set` of `cameras.<name>` = `value`, announced on
/// `update_topic`. No query string: one would replace the body's data.
fn config_set(name: &str, value: Value, update_topic: Option<String>) -> Request {
    let body = json!({
        "requires_restart": 0,
        "update_topic": update_topic,
        "config_data": {"cameras": {name: value}},
    });
    Request {
        method: Method::Put,
        path: "/api/config/set".to_string(),
        body: Some(body.to_string().into_bytes()),
        bearer: None,
        cache_bypass: false,
    }
}

fn topic(name: &str, what: &str) -> String {
    format!("config/cameras/{name}/{what}")
}

/// Adds camera `name` at run time. Frigate merges into a camera of the same
/// name and does not restart a running one: remove first, then add.
pub fn add(name: &str, camera_config: &Value) -> Request {
    config_set(name, camera_config.clone(), Some(topic(name, "add")))
}

/// 0.18: `DELETE /api/cameras/<name>` (Frigate also deletes the camera's
/// rows and files). Otherwise config/set with `""` and the remove topic (no
/// cleanup: the daemon deletes the rows); `null` would fail on 0.17.2.
///
/// On 0.17 a camera Frigate no longer has makes this a 500 ("Error updating
/// config"): before retrying a failed removal there, read [`config`] and
/// take a camera that is not listed as removed.
pub fn remove(version: &Version, name: &str) -> Request {
    match version {
        Version::V018(_) => Request {
            method: Method::Delete,
            path: format!("/api/cameras/{}", path_segment(name)),
            body: None,
            bearer: None,
            cache_bypass: false,
        },
        Version::V017(_) | Version::Other(_) => config_set(
            name,
            Value::String(String::new()),
            Some(topic(name, "remove")),
        ),
    }
}

/// The sections whose change this version announces to a running camera.
/// An unmeasured version gets 0.17's, which 0.18 keeps.
pub fn section_topics(version: &Version) -> &'static [&'static str] {
    match version {
        Version::V018(_) => &SECTION_TOPICS_018,
        Version::V017(_) | Version::Other(_) => &SECTION_TOPICS_017,
    }
}

pub fn has_section_topic(version: &Version, section: &str) -> bool {
    section_topics(version).contains(&section)
}

/// The value to send so that a section Frigate holds as `old` becomes
/// `new`. config/set merges into the YAML: a key `new` lacks (or sets to
/// `null`) is sent as `""`, which deletes it; a `null` for a key Frigate
/// does not have is left out (deleting it would fail). Lists and scalars are
/// sent whole.
pub fn section_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                match (old.get(key), value) {
                    (None, Value::Null) => {}
                    (Some(_), Value::Null) => {
                        patch.insert(key.clone(), Value::String(String::new()));
                    }
                    (Some(before), after) => {
                        patch.insert(key.clone(), section_patch(before, after));
                    }
                    (None, after) => {
                        patch.insert(key.clone(), after.clone());
                    }
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::String(String::new()));
            }
            Value::Object(patch)
        }
        (_, Value::Null) => Value::String(String::new()),
        (_, new) => new.clone(),
    }
}

/// One `PUT /api/config/set` of a plan: `data` goes under
/// `cameras.<camera>` (merged by Frigate), announced on `topic` if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSet {
    pub camera: String,
    pub data: Value,
    pub topic: Option<String>,
}

impl ConfigSet {
    pub fn request(&self) -> Request {
        config_set(&self.camera, self.data.clone(), self.topic.clone())
    }
}

/// How a running replay camera takes an update (SPEC §7 "Update").
#[derive(Debug, Clone, PartialEq)]
pub enum UpdatePlan {
    /// Every changed section has a topic: these requests, in order. The
    /// first carries all the sections' patches, so Frigate validates them
    /// together (refused: nothing changed), and announces the first
    /// section; each further one re-sends its section's new values (no
    /// `""`: the deletions are done) to announce it.
    Sections(Vec<ConfigSet>),
    /// A changed section has no topic in this version (0.17: `lpr`,
    /// `face_recognition`): remove the camera and add the new config; if
    /// Frigate refuses it, add the old one back.
    Readd { without_topic: Vec<String> },
}

/// The update of replay camera `name` from `old` to `new` (both JSON
/// cameras as published), whose `sections` changed.
pub fn update_plan(
    version: &Version,
    name: &str,
    old: &Value,
    new: &Value,
    sections: &[String],
) -> UpdatePlan {
    let without_topic: Vec<String> = sections
        .iter()
        .filter(|s| !has_section_topic(version, s))
        .cloned()
        .collect();
    if !without_topic.is_empty() {
        return UpdatePlan::Readd { without_topic };
    }
    let mut all = Map::new();
    for section in sections {
        let patch = match (old.get(section), new.get(section)) {
            (_, Some(Value::Null)) | (Some(_), None) => Value::String(String::new()),
            (Some(before), Some(after)) => section_patch(before, after),
            (None, Some(after)) => section_patch(&Value::Object(Map::new()), after),
            (None, None) => continue,
        };
        all.insert(section.clone(), patch);
    }
    let Some(first) = sections.first() else {
        return UpdatePlan::Sections(Vec::new());
    };
    let mut sets = vec![ConfigSet {
        camera: name.to_string(),
        data: Value::Object(all),
        topic: Some(topic(name, first)),
    }];
    for section in &sections[1..] {
        // The replay camera is always `enabled: true`: setting it again is
        // a harmless body for a section left with nothing to send.
        let data = match new.get(section).and_then(without_deletions) {
            Some(values) => json!({ section.as_str(): values }),
            None => json!({"enabled": true}),
        };
        sets.push(ConfigSet {
            camera: name.to_string(),
            data,
            topic: Some(topic(name, section)),
        });
    }
    UpdatePlan::Sections(sets)
}

/// What an apply sends to the source camera, and the sections it only
/// takes at Frigate's next restart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyRequests {
    pub sets: Vec<ConfigSet>,
    pub restart_needed: Vec<String>,
}

/// The apply of `patches` (per section, what to merge under
/// `cameras.<source>.<section>`) to Frigate's source camera: written with
/// `requires_restart: 0`, each section announced on its topic where this
/// version has one (else listed in `restart_needed`). As for an update,
/// one request carries every patch (validated together), then one per
/// further announced section re-sends its values; when two announced
/// sections only delete keys (nothing to re-send), each section goes in a
/// request of its own instead.
pub fn apply_requests(
    version: &Version,
    source: &str,
    patches: &[(String, Value)],
) -> ApplyRequests {
    type Patch = (String, Value);
    let (announced, silent): (Vec<&Patch>, Vec<&Patch>) = patches
        .iter()
        .partition(|(section, _)| has_section_topic(version, section));
    let restart_needed: Vec<String> = silent.iter().map(|(s, _)| s.clone()).collect();
    let set = |pairs: &[&Patch], topic_of: Option<&str>| ConfigSet {
        camera: source.to_string(),
        data: Value::Object(
            pairs
                .iter()
                .map(|(section, patch)| (section.clone(), patch.clone()))
                .collect(),
        ),
        topic: topic_of.map(|s| topic(source, s)),
    };
    let deletes_only: Vec<&str> = announced
        .iter()
        .filter(|(_, patch)| without_deletions(patch).is_none())
        .map(|(section, _)| section.as_str())
        .collect();
    if deletes_only.len() > 1 {
        let mut sets = Vec::new();
        if !silent.is_empty() {
            sets.push(set(&silent, None));
        }
        for pair in &announced {
            sets.push(set(&[pair], Some(&pair.0)));
        }
        return ApplyRequests {
            sets,
            restart_needed,
        };
    }
    let first_topic = deletes_only
        .first()
        .copied()
        .or_else(|| announced.first().map(|(s, _)| s.as_str()));
    let all: Vec<&Patch> = patches.iter().collect();
    let mut sets = vec![set(&all, first_topic)];
    for (section, patch) in &announced {
        if Some(section.as_str()) == first_topic {
            continue;
        }
        let values = without_deletions(patch).unwrap_or_default();
        sets.push(ConfigSet {
            camera: source.to_string(),
            data: json!({ section.as_str(): values }),
            topic: Some(topic(source, section)),
        });
    }
    ApplyRequests {
        sets,
        restart_needed,
    }
}

/// A patch without its deletions (`""`) and `null`s: what re-sending sets
/// again; `None` when nothing is left.
fn without_deletions(patch: &Value) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| without_deletions(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        other => Some(other.clone()),
    }
}

/// A camera name as a URL path segment. Names are validated long before
/// (`^[a-zA-Z0-9_-]+$`), so this escapes nothing in practice; it only makes
/// sure that no name can ever change the request line.
fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- replies ----

/// Judges the reply to `op` (or the transport error in its place).
pub fn classify(op: Op, reply: &Result<Response, HttpError>) -> Result<Outcome, FrigateError> {
    let response = match reply {
        Ok(response) => response,
        Err(e) => return Err(transport_error(op, e)),
    };
    match response.status {
        200..=299 => success(op, response),
        401 | 403 => Err(auth_error(response)),
        404 => not_found(op, response),
        // 0.18 holds a file lock around config changes: 503 from config/set,
        // 409 from delete.
        409 | 503 => Err(FrigateError::Unavailable {
            message: format!(
                "Frigate is busy (HTTP {}): {}; try again in a few seconds",
                response.status,
                reply_text(response)
            ),
            retry: true,
        }),
        400..=499 => Err(FrigateError::Refused {
            message: format!("Frigate refused {}: {}", op.what(), reply_text(response)),
        }),
        500 => Err(server_error(op, response)),
        // Frigate's API never redirects; a web UI or another proxy does.
        300..=399 => Err(FrigateError::Unavailable {
            message: format!(
                "{} answered with a redirect (HTTP {}): is {URL_SETTING} Frigate's API?",
                op.what(),
                response.status
            ),
            retry: false,
        }),
        status => Err(FrigateError::Unavailable {
            message: format!("Frigate answered HTTP {status}: {}", reply_text(response)),
            retry: true,
        }),
    }
}

fn transport_error(op: Op, error: &HttpError) -> FrigateError {
    let message = crate::replay::errors::error_chain(error);
    if op == Op::Add && error.request_may_have_arrived() {
        return FrigateError::Unknown {
            message: format!(
                "no usable reply from Frigate to the add ({message}): the camera may have been added"
            ),
        };
    }
    let retry = matches!(
        error,
        HttpError::Connect { .. } | HttpError::Timeout { .. } | HttpError::ConnectionLost { .. }
    );
    FrigateError::Unavailable {
        message: format!("no usable reply from Frigate to {}: {message}", op.what()),
        retry,
    }
}

fn success(op: Op, response: &Response) -> Result<Outcome, FrigateError> {
    let unexpected = |why: String| FrigateError::Unavailable {
        message: format!(
            "unexpected reply to {}: {why}; is {URL_SETTING} Frigate's API?",
            op.what()
        ),
        retry: false,
    };
    match op {
        Op::Version => {
            let text = String::from_utf8_lossy(&response.body);
            Version::parse(&text)
                .map(Outcome::Version)
                .ok_or_else(|| unexpected(format!("not a version: {}", quote(&text))))
        }
        Op::Config => RunningConfig::parse(&response.body)
            .map(Outcome::Config)
            .map_err(unexpected),
        Op::DebugReplayStatus => {
            let status: ApiDebugReplay =
                serde_json::from_slice(&response.body).map_err(|e| unexpected(e.to_string()))?;
            Ok(Outcome::DebugReplay(
                status.replay_camera.filter(|_| status.active),
            ))
        }
        Op::Add | Op::UpdateSection => Ok(Outcome::Done),
        Op::Remove => Ok(Outcome::Removed),
    }
}

fn auth_error(response: &Response) -> FrigateError {
    let why = if is_html(response) {
        "the HTML reply comes from Frigate's nginx auth check: the bearer token is missing, expired or invalid".to_string()
    } else {
        reply_text(response)
    };
    FrigateError::Unavailable {
        message: format!(
            "Frigate refused replayd's credentials (HTTP {}): {why}. Set {TOKEN_SETTING} to a file holding an admin user's token (POST /api/login), or use Frigate's internal port 5000",
            response.status
        ),
        retry: false,
    }
}

fn not_found(op: Op, response: &Response) -> Result<Outcome, FrigateError> {
    let frigate_says_missing = json_field(response, "success") == Some(Value::Bool(false));
    match op {
        // 0.18's delete: {"success":false,"message":"Camera X not found"}.
        // FastAPI's {"detail":"Not Found"} is a missing route instead.
        Op::Remove if frigate_says_missing => Ok(Outcome::AlreadyRemoved),
        // A Frigate without Debug Replay has none running.
        Op::DebugReplayStatus => Ok(Outcome::DebugReplay(None)),
        Op::Version | Op::Config => Err(FrigateError::Unavailable {
            message: format!(
                "{} was not found (HTTP 404): is {URL_SETTING} Frigate's API?",
                op.what()
            ),
            retry: false,
        }),
        _ => Err(FrigateError::Refused {
            message: format!(
                "Frigate refused {} (HTTP 404): {}",
                op.what(),
                reply_text(response)
            ),
        }),
    }
}

/// Frigate's own 500s are JSON `{"success":false,...}`; a bare "Internal
/// Server Error" is an exception that escaped (config/set raises one after
/// it wrote config.yml).
fn server_error(op: Op, response: &Response) -> FrigateError {
    let from_frigate = json_field(response, "success") == Some(Value::Bool(false));
    match op {
        // "Error updating config": the YAML edit failed and config.yml was
        // left as it was; the same body will fail again.
        Op::Add | Op::UpdateSection if from_frigate => FrigateError::Refused {
            message: format!(
                "Frigate refused {}: {} (it could not write it into its config.yml: a mapping key that looks like an integer, or a deletion of a key it does not have)",
                op.what(),
                reply_text(response)
            ),
        },
        Op::Add => FrigateError::Unknown {
            message: format!(
                "Frigate failed on the add (HTTP 500: {}) after it may have written the camera into its config.yml",
                reply_text(response)
            ),
        },
        Op::Remove if from_frigate => FrigateError::Unavailable {
            message: format!(
                "Frigate could not remove the camera: {} (Frigate 0.17 answers this when it no longer has the camera: check GET /api/config)",
                reply_text(response)
            ),
            retry: true,
        },
        _ => FrigateError::Unavailable {
            message: format!(
                "Frigate failed on {} (HTTP 500): {}",
                op.what(),
                reply_text(response)
            ),
            retry: true,
        },
    }
}

fn is_html(response: &Response) -> bool {
    let labelled = response
        .content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    labelled || response.body.trim_ascii_start().starts_with(b"<")
}

fn json_field(response: &Response, key: &str) -> Option<Value> {
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    value.get(key).cloned()
}

/// Frigate's own words: `message`, FastAPI's `detail` (a string, or a list
/// of validation errors), else the start of the body.
fn reply_text(response: &Response) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(&response.body) {
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_string();
        }
        match value.get("detail") {
            Some(Value::String(detail)) => return detail.clone(),
            Some(Value::Array(errors)) => {
                let messages: Vec<&str> = errors
                    .iter()
                    .filter_map(|e| e.get("msg").and_then(Value::as_str))
                    .collect();
                if !messages.is_empty() {
                    return messages.join("; ");
                }
            }
            _ => {}
        }
    }
    if is_html(response) {
        return format!("an HTML page (HTTP {})", response.status);
    }
    let text = String::from_utf8_lossy(&response.body);
    if text.trim().is_empty() {
        format!("HTTP {} with an empty body", response.status)
    } else {
        quote(&text)
    }
}

/// The start of untrusted text, on one line, for a message.
fn quote(text: &str) -> String {
    let line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(QUOTE_LIMIT)
        .collect();
    if text.trim().chars().count() > QUOTE_LIMIT {
        format!("{line:?}…")
    } else {
        format!("{line:?}")
    }
}

// ---- limits checked before an add ----

/// Why Frigate cannot take replay camera `name` now, or `None`. Checked
/// before anything is written (SPEC §7). `configured_cameras` is what
/// `GET /api/config` lists; `debug_replay_camera` the camera of Frigate's
/// own Debug Replay, if one is active; `ledger_owns_name` whether the ledger
/// names `name` as replayd's (then it is removed before the add).
pub fn refusal_before_add(
    version: &Version,
    configured_cameras: &[String],
    debug_replay_camera: Option<&str>,
    name: &str,
    ledger_owns_name: bool,
) -> Option<String> {
    if let Version::Other(_) = version {
        return Some(format!(
            "{version} is not supported: the frigate publisher knows Frigate 0.17 and 0.18 (publish.to = \"file\" works with any NVR)"
        ));
    }
    // Checked first: Frigate's Debug Replay camera is in its running config
    // too, and this says which camera it is.
    if debug_replay_camera == Some(name) {
        return Some(format!(
            "Frigate's own Debug Replay is running as {name}: stop it in Frigate first"
        ));
    }
    let configured = configured_cameras.iter().any(|c| c == name);
    if configured && !ledger_owns_name {
        return Some(format!(
            "Frigate already has a camera named {name} that replayd did not publish: remove or rename it in Frigate, or change session.camera_prefix"
        ));
    }
    // Our own leftover is removed before the add: it does not count.
    let others: Vec<&String> = configured_cameras.iter().filter(|c| *c != name).collect();
    if let (Version::V017(_), [only]) = (version, others.as_slice()) {
        return Some(format!(
            "{version} with exactly one configured camera ({only}) cannot run a camera added at run time (its config subscribers then listen to that camera only; fixed in 0.18): configure a second camera in Frigate or upgrade"
        ));
    }
    None
}

/// Keys Frigate's config API cannot store in `camera_config` (a JSON
/// camera), or `None`: int-like keys on every version, and on 0.17 keys
/// with a `.` (0.18 escapes them).
pub fn key_refusal(version: &Version, camera_config: &Value) -> Option<String> {
    fn walk(version: &Version, value: &Value, path: &mut Vec<String>) -> Option<String> {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(key.clone());
                    if is_int_like(key) {
                        return Some(int_key_message(&path.join(".")));
                    }
                    if key.contains('.') && matches!(version, Version::V017(_)) {
                        return Some(format!(
                            "{}: {version} cannot store a key that contains '.'; rename it",
                            path.join(".")
                        ));
                    }
                    if let Some(message) = walk(version, child, path) {
                        return Some(message);
                    }
                    path.pop();
                }
                None
            }
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                path.push(i.to_string());
                let message = walk(version, item, path);
                path.pop();
                message
            }),
            _ => None,
        }
    }
    walk(version, camera_config, &mut Vec::new())
}

fn int_key_message(path: &str) -> String {
    format!(
        "{path}: a mapping key that looks like an integer cannot go through Frigate's config API (it becomes a list index); rename it"
    )
}

/// Python's `int()` accepts it: surrounding spaces, a sign, digits with
/// single underscores between them. Frigate's YAML editor then takes the
/// key for a list index. (Any Unicode numeral counts: refusing a few more
/// keys than Python would is the safe side.)
fn is_int_like(key: &str) -> bool {
    let digits = key.trim();
    let digits = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c == '_' || c.is_numeric())
}

/// The camera config to send, as JSON (config/set takes JSON). Strings stay
/// exactly as written; a mapping key that looks like an integer, a key that
/// is not a string, a tag or a number JSON cannot hold is refused with the
/// path of the offending value.
pub fn yaml_to_json(value: &serde_yaml::Value) -> Result<Value, String> {
    fn convert(value: &serde_yaml::Value, path: &mut Vec<String>) -> Result<Value, String> {
        let here = |path: &[String]| {
            if path.is_empty() {
                "the camera".to_string()
            } else {
                path.join(".")
            }
        };
        Ok(match value {
            serde_yaml::Value::Null => Value::Null,
            serde_yaml::Value::Bool(b) => Value::Bool(*b),
            serde_yaml::Value::Number(n) => crate::replay::overrides::number_to_json(n)
                .ok_or_else(|| format!("{}: {n} is not a number JSON can hold", here(path)))?,
            serde_yaml::Value::String(s) => Value::String(s.clone()),
            serde_yaml::Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(convert(item, path)?);
                    path.pop();
                }
                Value::Array(out)
            }
            serde_yaml::Value::Mapping(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    let key = match key {
                        serde_yaml::Value::String(k) => k.clone(),
                        serde_yaml::Value::Number(n) => {
                            path.push(n.to_string());
                            return Err(int_key_message(&here(path)));
                        }
                        other => {
                            return Err(format!(
                                "{}: a mapping key must be a string, not {other:?}",
                                here(path)
                            ))
                        }
                    };
                    path.push(key.clone());
                    if is_int_like(&key) {
                        return Err(int_key_message(&here(path)));
                    }
                    out.insert(key, convert(item, path)?);
                    path.pop();
                }
                Value::Object(out)
            }
            serde_yaml::Value::Tagged(tagged) => {
                return Err(format!(
                    "{}: the YAML tag {} has no JSON form",
                    here(path),
                    tagged.tag
                ))
            }
        })
    }
    convert(value, &mut Vec::new())
}

#[cfg(test)]
mod tests;
