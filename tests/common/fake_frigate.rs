//! A fake Frigate API (0.17.2 or 0.18.0) for integration tests, following
//! `frigate-api/CONTRACT.md`: the runtime camera routes with Frigate's
//! replies, config/set's merge semantics, the bus announcements a change
//! makes, nginx's 5 s cache of JSON GETs and its 401 pages — and faults on
//! demand.
//!
//! ```ignore
//! let frigate = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
//! frigate.inject(Fault::Busy);                 // the next request gets a 503
//! // … drive replayd::nvr::http against frigate.url() …
//! assert_eq!(frigate.announcements(), ["config/cameras/_replay_front/add"]);
//! ```
//!
//! Listens on 127.0.0.1 only, on a port of its own that survives
//! `set_down(true)` / `set_down(false)`. Each connection is served by a
//! thread of its own, one request per connection (`Connection: close`).

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrigateVersion {
    V017,
    V018,
}

impl FrigateVersion {
    /// What `GET /api/version` answers.
    pub fn text(self) -> &'static str {
        match self {
            FrigateVersion::V017 => "0.17.2-fake",
            FrigateVersion::V018 => "0.18.0-fake",
        }
    }

    /// Members of this version's `CameraConfigUpdateEnum`.
    fn topics(self) -> &'static [&'static str] {
        match self {
            FrigateVersion::V017 => &[
                "add",
                "audio",
                "audio_transcription",
                "birdseye",
                "detect",
                "enabled",
                "motion",
                "notifications",
                "objects",
                "object_genai",
                "record",
                "remove",
                "review",
                "review_genai",
                "semantic_search",
                "snapshots",
                "zones",
            ],
            FrigateVersion::V018 => &[
                "add",
                "audio",
                "audio_transcription",
                "autotracking",
                "birdseye",
                "detect",
                "enabled",
                "ffmpeg",
                "live",
                "motion",
                "mqtt",
                "notifications",
                "objects",
                "object_genai",
                "onvif",
                "record",
                "refresh",
                "remove",
                "review",
                "review_genai",
                "semantic_search",
                "face_recognition",
                "lpr",
                "snapshots",
                "timestamp_style",
                "ui",
                "zones",
            ],
        }
    }
}

/// `CameraConfig`'s fields: any other key is "Extra inputs are not permitted".
const CAMERA_KEYS: [&str; 27] = [
    "name",
    "friendly_name",
    "enabled",
    "audio",
    "audio_transcription",
    "birdseye",
    "detect",
    "face_recognition",
    "ffmpeg",
    "live",
    "lpr",
    "motion",
    "objects",
    "record",
    "review",
    "semantic_search",
    "snapshots",
    "timestamp_style",
    "best_image_timeout",
    "mqtt",
    "notifications",
    "onvif",
    "type",
    "ui",
    "webui_url",
    "zones",
    "enabled_in_config",
];

/// What the next request gets instead of (or before) its normal reply.
/// Faults are used up one per request, in the order injected.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Served normally after this pause (the change is applied after it,
    /// even if the client gave up: a slow Frigate still does the work).
    Delay(Duration),
    /// Read the request, then close without acting on it or answering.
    Drop,
    /// Act on the request, then close without answering: the client cannot
    /// know that it happened.
    DropAfterApply,
    /// nginx's 401 page (HTML), as for a missing or expired token.
    Unauthorized,
    /// 409, 0.18's delete lock held elsewhere.
    Conflict,
    /// 503, 0.18's config/set lock held elsewhere.
    Busy,
    /// A bare 500 "Internal Server Error" (an exception that escaped).
    ServerError,
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// A 400 `{"success": false, "message": <this>}`, as Frigate refuses a
    /// change it cannot validate.
    BadRequest(String),
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// With its query string, if any.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

struct State {
    version: FrigateVersion,
    /// config.yml's `cameras`.
    file: Map<String, Value>,
    /// The in-memory config's cameras (what `GET /api/config` shows):
    /// config.yml after every applied change, plus Frigate's own Debug
    /// Replay camera while it runs.
    running: Map<String, Value>,
    requests: Vec<RecordedRequest>,
    announcements: Vec<String>,
    faults: VecDeque<Fault>,
    /// Faults for the first request with this method whose path starts
    /// with this prefix; checked before `faults`.
    targeted: Vec<(String, String, Fault)>,
    /// (source camera, replay camera) of Frigate's own Debug Replay.
    debug_replay: Option<(String, String)>,
    /// Port 8971's rule: a bearer token is required.
    token: Option<String>,
    chunked: bool,
    /// nginx: `proxy_cache_valid 200 5s` for JSON GETs, per URI.
    cache: BTreeMap<String, (Instant, Vec<u8>)>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    want_down: AtomicBool,
    listening: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking handler thread must not hide the state from the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeFrigate {
    shared: Arc<Shared>,
    port: u16,
    acceptor: Option<JoinHandle<()>>,
}

/// A camera as a user would configure it.
pub fn camera(name: &str) -> Value {
    json!({
        "ffmpeg": {"inputs": [{"path": format!("rtsp://10.0.0.2:554/{name}"), "roles": ["detect", "record"]}]},
        "detect": {"enabled": true, "width": 1280, "height": 720, "fps": 5},
    })
}

impl FakeFrigate {
    pub fn start(version: FrigateVersion, initial_cameras: &[&str]) -> FakeFrigate {
        let cameras: Map<String, Value> = initial_cameras
            .iter()
            .map(|name| (name.to_string(), camera(name)))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                version,
                file: cameras.clone(),
                running: cameras,
                requests: Vec::new(),
                announcements: Vec::new(),
                faults: VecDeque::new(),
                targeted: Vec::new(),
                debug_replay: None,
                token: None,
                chunked: false,
                cache: BTreeMap::new(),
            }),
            stop: AtomicBool::new(false),
            want_down: AtomicBool::new(false),
            listening: AtomicBool::new(true),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(shared, Some(listener), port))
        };
        FakeFrigate {
            shared,
            port,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cameras Frigate runs (its in-memory config).
    pub fn cameras(&self) -> Vec<String> {
        self.shared.state().running.keys().cloned().collect()
    }

    /// A camera as config.yml holds it.
    pub fn file_camera(&self, name: &str) -> Option<Value> {
        self.shared.state().file.get(name).cloned()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// The topics published on Frigate's config bus, in order.
    pub fn announcements(&self) -> Vec<String> {
        self.shared.state().announcements.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.state().faults.push_back(fault);
    }

    /// A fault for the first request with `method` whose path starts with
    /// `path_prefix` (e.g. `"PUT", "/api/config/set"`), whatever comes
    /// before it; targeted faults go before those of `inject`.
    pub fn inject_on(&self, method: &str, path_prefix: &str, fault: Fault) {
        self.shared
            .state()
            .targeted
            .push((method.to_string(), path_prefix.to_string(), fault));
    }

    /// Faults injected and not used up yet.
    pub fn pending_faults(&self) -> usize {
        let state = self.shared.state();
        state.faults.len() + state.targeted.len()
    }

    /// A camera someone else configured (in config.yml and in memory), as
    /// through Frigate's UI.
    pub fn add_camera(&self, name: &str) {
        let mut state = self.shared.state();
        state.file.insert(name.to_string(), camera(name));
        state.running.insert(name.to_string(), camera(name));
    }

    /// A camera as Frigate runs it (`GET /api/config`'s entry, without the
    /// fields it adds).
    pub fn running_camera(&self, name: &str) -> Option<Value> {
        self.shared.state().running.get(name).cloned()
    }

    /// Stops (true) or resumes (false) listening; returns once connects are
    /// refused or accepted again.
    pub fn set_down(&self, down: bool) {
        self.shared.want_down.store(down, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.shared.listening.load(Ordering::SeqCst) == down {
            assert!(
                Instant::now() < deadline,
                "fake Frigate did not go {}",
                if down { "down" } else { "up" }
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Frigate's own Debug Replay of `source` (0.18), or none.
    pub fn set_debug_replay(&self, source: Option<&str>) {
        let mut state = self.shared.state();
        if let Some((_, replay)) = state.debug_replay.take() {
            state.running.remove(&replay);
        }
        if let Some(source) = source {
            let replay = format!("_replay_{source}");
            // In memory only, never in config.yml.
            state.running.insert(replay.clone(), camera(&replay));
            state.debug_replay = Some((source.to_string(), replay));
        }
    }

    /// Requires `Authorization: Bearer <token>` as nginx on port 8971 does.
    pub fn require_token(&self, token: Option<&str>) {
        self.shared.state().token = token.map(str::to_string);
    }

    /// Replies with chunked transfer encoding (as a proxy may).
    pub fn set_chunked(&self, chunked: bool) {
        self.shared.state().chunked = chunked;
    }
}

impl Drop for FakeFrigate {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(shared: Arc<Shared>, mut listener: Option<TcpListener>, port: u16) {
    if let Some(l) = &listener {
        l.set_nonblocking(true).expect("set_nonblocking");
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let down = shared.want_down.load(Ordering::SeqCst);
        if down && listener.is_some() {
            listener = None;
            shared.listening.store(false, Ordering::SeqCst);
        }
        if !down && listener.is_none() {
            // std sets SO_REUSEADDR: the port is free again at once.
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => {
                    l.set_nonblocking(true).expect("set_nonblocking");
                    listener = Some(l);
                    shared.listening.store(true, Ordering::SeqCst);
                }
                Err(_) => {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                }
            }
        }
        let Some(l) = &listener else {
            thread::sleep(Duration::from_millis(2));
            continue;
        };
        match l.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                thread::spawn(move || serve(&shared, stream));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(1)),
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }

    fn not_found() -> Reply {
        Reply::json(404, json!({"detail": "Not Found"}))
    }

    fn internal_error() -> Reply {
        Reply::text(500, "Internal Server Error")
    }

    fn nginx_401() -> Reply {
        Reply {
            status: 401,
            content_type: "text/html",
            body: b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n".to_vec(),
        }
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let fault = {
        let mut state = shared.state();
        state.requests.push(request.clone());
        let targeted = state.targeted.iter().position(|(method, prefix, _)| {
            *method == request.method && request.path.starts_with(prefix.as_str())
        });
        match targeted {
            Some(i) => Some(state.targeted.remove(i).2),
            None => state.faults.pop_front(),
        }
    };
    let reply = match fault {
        None => respond(shared, &request),
        Some(Fault::Delay(pause)) => {
            thread::sleep(pause);
            respond(shared, &request)
        }
        Some(Fault::Drop) => {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::DropAfterApply) => {
            respond(shared, &request);
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::Garbage) => {
            let _ = stream.write_all(b"\x16\x03\x01 not http at all\r\n\r\n");
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::Unauthorized) => Reply::nginx_401(),
        Some(Fault::Conflict) => Reply::json(
            409,
            json!({"success": false, "message": "Another process is currently updating the config"}),
        ),
        Some(Fault::Busy) => Reply::json(
            503,
            json!({"success": false, "message": "Another process is currently updating the config. Please try again in a few seconds."}),
        ),
        Some(Fault::ServerError) => Reply::internal_error(),
        Some(Fault::BadRequest(message)) => {
            Reply::json(400, json!({"success": false, "message": message}))
        }
    };
    let chunked = shared.state().chunked;
    let _ = write_reply(&mut stream, &reply, chunked);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads one request: the head, then a body by Content-Length.
fn read_request(stream: &mut TcpStream) -> Option<RecordedRequest> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = parsed.parse(&data) {
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= head_len + length {
                return Some(RecordedRequest {
                    method: parsed.method?.to_string(),
                    path: parsed.path?.to_string(),
                    headers,
                    body: data[head_len..head_len + length].to_vec(),
                });
            }
        }
        if data.len() > 8 << 20 {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply, chunked: bool) -> std::io::Result<()> {
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nServer: fake-frigate\r\nContent-Type: {}\r\nConnection: close\r\n",
        reply.status, reply.content_type
    )
    .into_bytes();
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let half = reply.body.len() / 2;
        for part in [&reply.body[..half], &reply.body[half..]] {
            if !part.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", reply.body.len()).as_bytes());
        out.extend_from_slice(&reply.body);
    }
    stream.write_all(&out)
}

/// The reply Frigate (behind its nginx) gives, after acting on the request.
fn respond(shared: &Shared, request: &RecordedRequest) -> Reply {
    let mut state = shared.state();
    if let Some(token) = &state.token {
        let expected = format!("Bearer {token}");
        if request.header("Authorization") != Some(expected.as_str()) {
            return Reply::nginx_401();
        }
    }
    // check_csrf: a non-GET request with Origin needs X-CSRF-TOKEN.
    if request.method != "GET"
        && request.header("Origin").is_some()
        && request.header("X-CSRF-TOKEN").is_none()
    {
        return Reply::json(
            401,
            json!({"success": false, "message": "Missing CSRF header"}),
        );
    }
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let version = state.version;
    match (request.method.as_str(), path) {
        ("GET", "/api/version") => Reply::text(200, version.text()),
        ("GET", "/api/config") => {
            let bypass = request.header("X-Cache-Bypass") == Some("1");
            if !bypass {
                if let Some((at, body)) = state.cache.get(path) {
                    if at.elapsed() < Duration::from_secs(5) {
                        return Reply {
                            status: 200,
                            content_type: "application/json",
                            body: body.clone(),
                        };
                    }
                }
            }
            let body = api_config(&state).to_string().into_bytes();
            state
                .cache
                .insert(path.to_string(), (Instant::now(), body.clone()));
            Reply {
                status: 200,
                content_type: "application/json",
                body,
            }
        }
        ("GET", "/api/debug_replay/status") if version == FrigateVersion::V018 => {
            let (source, replay) = match &state.debug_replay {
                Some((s, r)) => (json!(s), json!(r)),
                None => (Value::Null, Value::Null),
            };
            Reply::json(
                200,
                json!({"active": state.debug_replay.is_some(), "replay_camera": replay,
                       "source_camera": source, "start_time": null, "end_time": null,
                       "live_ready": false}),
            )
        }
        ("PUT", "/api/config/set") => config_set(&mut state, query, &request.body),
        ("DELETE", p) if version == FrigateVersion::V018 && p.starts_with("/api/cameras/") => {
            delete_camera(&mut state, &p["/api/cameras/".len()..])
        }
        _ => Reply::not_found(),
    }
}

/// `GET /api/config`: the in-memory config, with the fields Frigate adds.
fn api_config(state: &State) -> Value {
    let cameras: Map<String, Value> = state
        .running
        .iter()
        .map(|(name, camera)| {
            let mut camera = camera.clone();
            if let Some(map) = camera.as_object_mut() {
                map.insert("name".into(), json!(name));
                map.insert("enabled_in_config".into(), json!(true));
            }
            (name.clone(), camera)
        })
        .collect();
    let schema = match state.version {
        FrigateVersion::V017 => "0.17-0",
        FrigateVersion::V018 => "0.18-0",
    };
    json!({"version": schema, "mqtt": {"enabled": false}, "cameras": cameras})
}

/// `PUT /api/config/set` (`frigate/api/app.py config_set`).
fn config_set(state: &mut State, query: &str, body: &[u8]) -> Reply {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Reply::json(
            422,
            json!({"detail": [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]}),
        );
    };
    if !query.is_empty() {
        // Frigate would replace config_data with the query string's keys.
        return Reply::json(
            400,
            json!({"success": false, "message": "fake Frigate: a query string replaces config_data; never send one"}),
        );
    }
    let requires_restart = body
        .get("requires_restart")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let topic = body
        .get("update_topic")
        .and_then(Value::as_str)
        .map(str::to_string);
    let data = match body.get("config_data") {
        Some(Value::Object(data)) if !data.is_empty() => data.clone(),
        _ => {
            return Reply::json(
                400,
                json!({"success": false, "message": "No configuration data provided"}),
            )
        }
    };
    let version = state.version;
    let mut leaves = Vec::new();
    flatten(&data, &mut Vec::new(), version, &mut leaves);
    if leaves.is_empty() {
        return Reply::json(
            400,
            json!({"success": false, "message": "No configuration data provided"}),
        );
    }
    // config.yml as a tree: only `cameras` is kept by this fake.
    let mut file = json!({"cameras": Value::Object(state.file.clone())});
    for (path, mut value) in leaves {
        if version == FrigateVersion::V018 && value.is_null() {
            value = Value::String(String::new());
        }
        if update_yaml(&mut file, &path, value).is_err() {
            return Reply::json(
                500,
                json!({"success": false, "message": "Error updating config"}),
            );
        }
    }
    let Some(Value::Object(new_cameras)) = file.get("cameras").cloned() else {
        return Reply::json(
            400,
            json!({"success": false, "message": "Error parsing config. Check logs for error message."}),
        );
    };
    if let Err(messages) = validate(&new_cameras) {
        let message = match version {
            FrigateVersion::V018 => format!("Error saving config: {}", messages.join("; ")),
            FrigateVersion::V017 => "Error parsing config. Check logs for error message.".into(),
        };
        return Reply::json(400, json!({"success": false, "message": message}));
    }
    // Written; swapped into memory when live or announced. Frigate's own
    // Debug Replay camera lives in memory only: the swap drops it.
    state.file = new_cameras.clone();
    let old_running = state.running.clone();
    if requires_restart == 0 || topic.is_some() {
        state.running = new_cameras.clone();
    }
    if let Some(topic) = topic {
        if let Some(rest) = topic.strip_prefix("config/cameras/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let [camera, field] = parts.as_slice() else {
                return Reply::internal_error();
            };
            if !version.topics().contains(field) {
                return Reply::internal_error();
            }
            let known = match *field {
                "add" => new_cameras.contains_key(*camera),
                "remove" => old_running.contains_key(*camera),
                _ => true,
            };
            if !known {
                return Reply::internal_error();
            }
            state.announcements.push(topic.clone());
        } else {
            state.announcements.push(topic.clone());
        }
    }
    let message = match (version, requires_restart) {
        (FrigateVersion::V018, 0) => "Config successfully updated",
        _ => "Config successfully updated, restart to apply",
    };
    Reply::json(200, json!({"success": true, "message": message}))
}

/// `flatten_config_data`: a dict becomes dotted keys, anything else is one
/// leaf, `{}` disappears. 0.17 does not escape `.` in keys (a key with a dot
/// becomes two levels); 0.18 does.
fn flatten(
    map: &Map<String, Value>,
    prefix: &mut Vec<String>,
    version: FrigateVersion,
    out: &mut Vec<(Vec<String>, Value)>,
) {
    for (key, value) in map {
        let segments: Vec<String> = match version {
            FrigateVersion::V017 => key.split('.').map(str::to_string).collect(),
            FrigateVersion::V018 => vec![key.clone()],
        };
        let depth = prefix.len();
        prefix.extend(segments);
        match value {
            Value::Object(child) => flatten(child, prefix, version, out),
            leaf => out.push((prefix.clone(), leaf.clone())),
        }
        prefix.truncate(depth);
    }
}

/// `update_yaml`: walk the path creating mappings, `""` deletes, anything
/// else is set. A segment that parses as an int would be a list index: on a
/// mapping that is the 500 CONTRACT measured.
fn update_yaml(root: &mut Value, path: &[String], value: Value) -> Result<(), ()> {
    if path.iter().any(|s| s.trim().parse::<i64>().is_ok()) {
        return Err(());
    }
    let (last, parents) = path.split_last().ok_or(())?;
    let mut node = root;
    for key in parents {
        let map = node.as_object_mut().ok_or(())?;
        let entry = map.entry(key.clone()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        node = entry;
    }
    let map = node.as_object_mut().ok_or(())?;
    if value == Value::String(String::new()) {
        map.remove(last).map(|_| ()).ok_or(())
    } else {
        map.insert(last.clone(), value);
        Ok(())
    }
}

/// The part of `FrigateConfig.parse` these tests need: pydantic's messages.
fn validate(cameras: &Map<String, Value>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for (name, camera) in cameras {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            errors.push("String should match pattern '^[a-zA-Z0-9_-]+$'".to_string());
        }
        let Some(camera) = camera.as_object() else {
            errors.push("Input should be a valid dictionary or instance of CameraConfig".into());
            continue;
        };
        if camera.keys().any(|k| !CAMERA_KEYS.contains(&k.as_str())) {
            errors.push("Extra inputs are not permitted".into());
        }
        let inputs = camera
            .get("ffmpeg")
            .and_then(|f| f.get("inputs"))
            .and_then(Value::as_array);
        match inputs {
            Some(inputs)
                if !inputs.is_empty()
                    && inputs
                        .iter()
                        .all(|i| i.get("path").is_some_and(Value::is_string)) => {}
            _ => errors.push("Field required".into()),
        }
        for key in ["width", "height"] {
            if let Some(v) = camera.get("detect").and_then(|d| d.get(key)) {
                if !v.is_u64() {
                    errors.push("Input should be a valid integer".into());
                }
            }
        }
        if let Some(zones) = camera.get("zones").and_then(Value::as_object) {
            for (zone, config) in zones {
                if cameras.contains_key(zone) {
                    errors.push("Zones cannot share names with cameras".into());
                }
                if !config
                    .get("coordinates")
                    .is_some_and(|c| c.is_string() || c.is_array())
                {
                    errors.push("Field required".into());
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// 0.18's `DELETE /api/cameras/<name>`.
fn delete_camera(state: &mut State, name: &str) -> Reply {
    if !state.file.contains_key(name) {
        return Reply::json(
            404,
            json!({"success": false, "message": format!("Camera {name} not found")}),
        );
    }
    state.file.remove(name);
    state.running.remove(name);
    state
        .announcements
        .push(format!("config/cameras/{name}/remove"));
    Reply::json(
        200,
        json!({"success": true, "message": format!("Camera {name} has been deleted"),
               "cleanup": {"events": 0, "timeline": 0, "recordings": 0, "review_segments": 0,
                           "previews": 0, "regions": 0, "triggers": 0}}),
    )
}
