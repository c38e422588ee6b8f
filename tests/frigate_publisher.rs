//! The `frigate` publisher end to end, in plain `cargo test`: the real
//! replayd and real ffmpeg against the fake Frigate API of
//! `tests/common/fake_frigate.rs` (0.17 and 0.18, SPEC §7,
//! frigate-api/CONTRACT.md):
//!
//! - start → ready → stop: what Frigate is sent, the ledger, ping;
//! - faults before a start is accepted: each a clear error code and nothing
//!   left anywhere, the loop never blocked by a slow Frigate;
//! - an add whose outcome is unknown is treated as done and removed;
//! - faults at stop: `pending_removals`, STATUS=, retried until Frigate
//!   confirms;
//! - kill -9: boot cleanup after a reboot, recovery after a crash;
//! - the Docker layout: container paths in the DB and NVR config, implied
//!   mounts, `--check-config`.
//!
//! Each scenario that depends on the version runs once per version
//! (modules `v017` and `v018`).

mod common;

use common::daemon::SCRUBBED_ENV;
use common::fake_frigate::{FakeFrigate, Fault, FrigateVersion, RecordedRequest};
use common::root::{toml_str, NVR_CONFIG};
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

const SOURCE: &str = "front";
const REPLAY: &str = "_replay_front";
/// The cameras of the test root's NVR config, as the fake Frigate runs them.
const CAMERAS: [&str; 3] = ["front", "front_door-yard", "back"];
/// Recording segments of `front` (2 s each).
const SEGMENTS: usize = 6;
/// `publish.frigate.timeout`: short, so that a slow Frigate fails fast.
const TIMEOUT: &str = "1s";
/// A pause well beyond `TIMEOUT`.
const SLOW: Duration = Duration::from_millis(2500);
/// How long a status request may take while Frigate is slow.
const PROMPT: Duration = Duration::from_millis(500);

/// `[publish] to = "frigate"` at `url`; the harness's keys (identity mount,
/// state dir) stay.
fn frigate_toml(t: &mut DaemonToml, url: &str) {
    t.extra
        .push(("publish".into(), "to".into(), toml_str("frigate")));
    t.extra
        .push(("publish.frigate".into(), "url".into(), toml_str(url)));
    t.extra.push((
        "publish.frigate".into(),
        "timeout".into(),
        toml_str(TIMEOUT),
    ));
}

fn label(version: FrigateVersion) -> &'static str {
    match version {
        FrigateVersion::V017 => "0.17",
        FrigateVersion::V018 => "0.18",
    }
}

/// A test root whose replayd publishes to a fake Frigate. Fields drop in
/// order: replayd, then Frigate, then the temp dir.
struct World {
    daemon: Option<Daemon>,
    fake: FakeFrigate,
    root: TestRoot,
    version: FrigateVersion,
}

impl World {
    fn new(version: FrigateVersion, cameras: &[&str]) -> World {
        World::shaped(version, cameras, |b| b)
    }

    fn shaped(
        version: FrigateVersion,
        cameras: &[&str],
        shape: impl FnOnce(TestRootBuilder) -> TestRootBuilder,
    ) -> World {
        let fake = FakeFrigate::start(version, cameras);
        let url = fake.url();
        let builder = TestRoot::builder()
            .segments(SEGMENTS)
            .toml(move |t| frigate_toml(t, &url));
        let root = shape(builder).build();
        World {
            daemon: None,
            fake,
            root,
            version,
        }
    }

    fn label(&self) -> &'static str {
        label(self.version)
    }

    fn spawn(&mut self) {
        assert!(self.daemon.is_none(), "replayd already running");
        self.daemon = Some(Daemon::spawn(&self.root));
    }

    /// SIGKILL, reaped.
    fn kill(&mut self) {
        let mut daemon = self.daemon.take().expect("replayd is running");
        daemon.sigkill();
        daemon.wait_exit(secs(5));
    }

    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("replayd is running")
    }

    fn report(&self) -> String {
        self.daemon
            .as_ref()
            .map_or_else(String::new, Daemon::log_report)
    }

    fn client(&self) -> Client {
        Client::connect(self.root.socket())
    }

    fn status(&self) -> Value {
        let status = self.client().cmd("status");
        assert_eq!(status["ok"], true, "status: {status}");
        status
    }

    fn start_request(&self) -> Value {
        let base = self.root.base_time();
        start_req(SOURCE, base + 1.0, base + 9.0)
    }

    /// Start → job success → `ready`; returns the status then.
    fn start_ready(&self) -> Value {
        let mut events = Client::subscribe(self.root.socket());
        let reply = self.client().request(&self.start_request());
        assert_eq!(
            reply["ok"],
            true,
            "[{}] start refused: {reply}\n{}",
            self.label(),
            self.report()
        );
        assert_eq!(reply["replay_camera"], REPLAY, "{reply}");
        let end = wait_job_end(&mut events, self.daemon());
        assert!(
            is_job(&end, "success"),
            "[{}] the job failed: {end}\n{}",
            self.label(),
            self.report()
        );
        let status = self.status();
        assert_eq!(status["session"]["state"], "ready", "{status}");
        status
    }

    fn stop(&self) -> Value {
        let reply = self.client().cmd("stop");
        assert_eq!(
            reply["ok"],
            true,
            "[{}] stop: {reply}\n{}",
            self.label(),
            self.report()
        );
        reply
    }

    /// Cameras with replayd's prefix that Frigate runs.
    fn replay_cameras(&self) -> Vec<String> {
        self.fake
            .cameras()
            .into_iter()
            .filter(|c| c.starts_with("_replay_"))
            .collect()
    }

    /// ledger.json (an absent one is empty).
    fn ledger(&self) -> Value {
        match fs::read(self.root.ledger_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("ledger.json is JSON"),
            Err(_) => json!({"cameras": [], "folders": [], "rows_owed": []}),
        }
    }

    fn ledger_cameras(&self) -> Vec<String> {
        names(&self.ledger()["cameras"], "name")
    }

    fn ledger_folders(&self) -> Vec<String> {
        names(&self.ledger()["folders"], "camera")
    }

    /// session.json's `session` (null when idle or absent).
    fn stored_session(&self) -> Value {
        fs::read(self.root.session_file())
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map_or(Value::Null, |v| v["session"].clone())
    }

    fn requests_since(&self, mark: usize) -> Vec<RecordedRequest> {
        self.fake.requests().into_iter().skip(mark).collect()
    }

    /// Requests after `mark` that change Frigate's config.
    fn writes_since(&self, mark: usize) -> Vec<String> {
        self.requests_since(mark)
            .iter()
            .filter(|r| r.method != "GET")
            .map(describe)
            .collect()
    }

    /// No replay folder, camera file, media entry, session, ledger entry or
    /// pending removal of the replay camera, and Frigate runs `cameras`.
    fn assert_nothing_left(&self, context: &str, cameras: &[String]) {
        let label = self.label();
        let folder = self.root.replay_dir().join(REPLAY);
        assert!(
            !folder.exists(),
            "[{label}] {context}: replay folder {} left\n{}",
            folder.display(),
            self.report()
        );
        assert!(
            !self.root.camera_file(REPLAY).exists(),
            "[{label}] {context}: camera file left"
        );
        let entries = self.root.media_entries_for(REPLAY);
        assert!(
            entries.is_empty(),
            "[{label}] {context}: media entries left: {entries:?}"
        );
        let status = self.status();
        assert_eq!(
            status["session"]["active"], false,
            "[{label}] {context}: {status}"
        );
        assert_eq!(
            status["pending_removals"],
            json!([]),
            "[{label}] {context}: {status}"
        );
        assert_eq!(
            self.stored_session(),
            Value::Null,
            "[{label}] {context}: session.json holds a session"
        );
        let ledger = self.ledger();
        assert!(
            self.ledger_cameras().is_empty() && self.ledger_folders().is_empty(),
            "[{label}] {context}: ledger not empty: {ledger}"
        );
        assert_eq!(
            self.fake.cameras(),
            cameras,
            "[{label}] {context}: Frigate's cameras changed"
        );
    }

    /// The removal Frigate got for the replay camera after `mark`.
    fn assert_removal_sent(&self, mark: usize) {
        let requests = self.requests_since(mark);
        let found = requests.iter().any(|r| is_removal(self.version, r));
        assert!(
            found,
            "[{}] no removal of {REPLAY} among {:?}",
            self.label(),
            requests.iter().map(describe).collect::<Vec<_>>()
        );
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn describe(r: &RecordedRequest) -> String {
    match r.json() {
        Value::Null => format!("{} {}", r.method, r.path),
        body => format!("{} {} {body}", r.method, r.path),
    }
}

fn is_add(r: &RecordedRequest) -> bool {
    r.method == "PUT"
        && r.path == "/api/config/set"
        && r.json()["update_topic"] == format!("config/cameras/{REPLAY}/add")
}

/// 0.18: `DELETE /api/cameras/<name>`; 0.17: config/set with `""` and the
/// remove topic.
fn is_removal(version: FrigateVersion, r: &RecordedRequest) -> bool {
    match version {
        FrigateVersion::V018 => r.method == "DELETE" && r.path == format!("/api/cameras/{REPLAY}"),
        FrigateVersion::V017 => {
            let body = r.json();
            r.method == "PUT"
                && r.path == "/api/config/set"
                && body["update_topic"] == format!("config/cameras/{REPLAY}/remove")
                && body["config_data"]["cameras"][REPLAY] == ""
        }
    }
}

/// `CAMERAS` in the fake's (sorted) order.
fn configured() -> Vec<String> {
    let mut cameras: Vec<String> = CAMERAS.iter().map(|c| c.to_string()).collect();
    cameras.sort();
    cameras
}

fn input_path(camera: &Value) -> Value {
    camera["ffmpeg"]["inputs"][0]["path"].clone()
}

/// Both versions of each scenario, as `v017::name` and `v018::name`.
macro_rules! per_version {
    ($($name:ident),* $(,)?) => {
        mod v017 {
            $( #[test] fn $name() { super::$name(super::FrigateVersion::V017) } )*
        }
        mod v018 {
            $( #[test] fn $name() { super::$name(super::FrigateVersion::V018) } )*
        }
    };
}

per_version!(
    start_publishes_stop_removes,
    faults_before_a_start_leave_nothing,
    refused_add_leaves_nothing,
    add_of_unknown_outcome_is_removed,
    stop_while_frigate_is_down_or_busy,
    boot_cleanup_and_recovery,
    stray_from_a_crashed_slow_add_is_taken_back,
    stop_during_a_slow_add,
    recovery_and_boot_cleanup_while_frigate_is_down,
);

// ---- 1. start → ready → stop ----

fn start_publishes_stop_removes(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let ping = w.client().cmd("ping");
    assert_eq!(ping["publisher"], "frigate", "{ping}");
    assert_eq!(ping["protocol"], 2, "{ping}");

    let mark = w.fake.requests().len();
    let status = w.start_ready();
    let requests = w.requests_since(mark);
    let seen: Vec<String> = requests.iter().map(describe).collect();
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    // The check before the reply, then the add.
    assert_eq!(paths.first(), Some(&("GET", "/api/version")), "{seen:?}");
    let config_get = requests
        .iter()
        .find(|r| r.method == "GET" && r.path == "/api/config")
        .unwrap_or_else(|| panic!("[{label}] no GET /api/config: {seen:?}"));
    assert_eq!(
        config_get.header("X-Cache-Bypass"),
        Some("1"),
        "[{label}] reads bypass nginx's cache"
    );
    let debug_replay = paths.contains(&("GET", "/api/debug_replay/status"));
    assert_eq!(
        debug_replay,
        version == FrigateVersion::V018,
        "[{label}] Debug Replay status asked: {seen:?}"
    );
    assert!(
        requests.iter().all(|r| r.header("Origin").is_none()),
        "[{label}] an Origin header was sent"
    );
    let adds: Vec<&RecordedRequest> = requests.iter().filter(|r| is_add(r)).collect();
    assert_eq!(adds.len(), 1, "[{label}] adds: {seen:?}");
    let add_index = requests.iter().position(is_add).unwrap();
    assert!(
        requests[..add_index]
            .iter()
            .any(|r| r.path == "/api/config"),
        "[{label}] the add came before the check: {seen:?}"
    );
    assert_eq!(
        requests.len(),
        add_index + 1,
        "[{label}] requests after the add: {seen:?}"
    );

    // The camera's input is the clip (identity mount: the same path).
    let clip = status["session"]["clip_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no clip_path: {status}"))
        .to_string();
    assert!(
        std::path::Path::new(&clip).starts_with(w.root.replay_dir().join(REPLAY)),
        "{clip}"
    );
    let sent = &adds[0].json()["config_data"]["cameras"][REPLAY];
    assert_eq!(input_path(sent), clip, "[{label}] add body: {sent}");
    assert_eq!(sent["ffmpeg"]["inputs"][0]["roles"], json!(["detect"]));
    // The test root's `front` says 320x240.
    assert_eq!(sent["detect"]["width"], 320, "{sent}");
    let running = w
        .fake
        .running_camera(REPLAY)
        .unwrap_or_else(|| panic!("[{label}] {REPLAY} not running: {:?}", w.fake.cameras()));
    assert_eq!(input_path(&running), clip);
    assert_eq!(
        w.fake.announcements(),
        vec![format!("config/cameras/{REPLAY}/add")]
    );
    assert_eq!(w.ledger_cameras(), vec![REPLAY.to_string()]);
    assert_eq!(w.ledger()["cameras"][0]["publisher"], "frigate");
    assert_eq!(w.ledger()["cameras"][0]["nvr_url"], w.fake.url());
    assert!(w.root.camera_file(REPLAY).exists());
    assert_eq!(status["pending_removals"], json!([]));

    // stop: Frigate's removal, then nothing left.
    let mark = w.fake.requests().len();
    let stop = w.stop();
    assert_eq!(stop["warnings"], json!([]), "{stop}");
    w.assert_removal_sent(mark);
    let writes = w.writes_since(mark);
    assert_eq!(writes.len(), 1, "[{label}] {writes:?}");
    w.assert_nothing_left("after stop", &configured());
    assert!(w.fake.file_camera(REPLAY).is_none());
    assert_eq!(
        w.fake.announcements().last().cloned(),
        Some(format!("config/cameras/{REPLAY}/remove"))
    );
}

// ---- 2. faults before a start is accepted ----

/// One fault before the start's reply: the error code, a part of its
/// message, and nothing written anywhere.
fn refused_start(w: &World, context: &str, code: &str, message_has: &str) {
    let label = w.label();
    let cameras = w.fake.cameras();
    let mark = w.fake.requests().len();
    let reply = w.client().request(&w.start_request());
    assert_eq!(
        error_code(&reply),
        code,
        "[{label}] {context}: {reply}\n{}",
        w.report()
    );
    let message = reply["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(message_has),
        "[{label}] {context}: message {message:?} lacks {message_has:?}"
    );
    assert_eq!(
        w.fake.pending_faults(),
        0,
        "[{label}] {context}: the fault was never met"
    );
    assert_eq!(
        w.writes_since(mark),
        Vec::<String>::new(),
        "[{label}] {context}: Frigate's config was written"
    );
    w.assert_nothing_left(context, &cameras);
    eprintln!("[{label}] {context}: {code}: {message}");
}

fn faults_before_a_start_leave_nothing(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();

    w.fake.set_down(true);
    refused_start(&w, "Frigate down", "nvr_unavailable", "");
    w.fake.set_down(false);

    w.fake.inject(Fault::Unauthorized);
    refused_start(
        &w,
        "401 from nginx",
        "nvr_unavailable",
        "publish.frigate.token_file",
    );
    w.fake.inject(Fault::Conflict);
    refused_start(&w, "409", "nvr_unavailable", "409");
    w.fake.inject(Fault::Busy);
    refused_start(&w, "503", "nvr_unavailable", "503");
    w.fake.inject(Fault::ServerError);
    refused_start(&w, "500", "nvr_unavailable", "500");
    w.fake.inject(Fault::Garbage);
    refused_start(&w, "garbage", "nvr_unavailable", "");
    w.fake.inject(Fault::Drop);
    refused_start(&w, "connection dropped", "nvr_unavailable", "");
    // A fault on the config read, after the version was learnt.
    w.fake.inject_on("GET", "/api/config", Fault::Garbage);
    refused_start(&w, "garbage config", "nvr_unavailable", "");
    w.fake.inject_on(
        "GET",
        "/api/config",
        Fault::BadRequest("fake Frigate says no".into()),
    );
    refused_start(&w, "400", "nvr_refused", "fake Frigate says no");

    // Slow: beyond publish.frigate.timeout, while the loop serves others.
    w.fake.inject(Fault::Delay(SLOW));
    let cameras = w.fake.cameras();
    let mark = w.fake.requests().len();
    let mut starter = w.client();
    let mut line = w.start_request().to_string();
    line.push('\n');
    let sent = Instant::now();
    starter.send_raw(line.as_bytes());
    assert!(
        wait_until(secs(2), || w.fake.requests().len() > mark),
        "the slow request never reached Frigate"
    );
    for cmd in ["status", "ping", "status"] {
        let t = Instant::now();
        let reply = w.client().cmd(cmd);
        assert_eq!(reply["ok"], true, "{reply}");
        assert!(
            t.elapsed() < PROMPT,
            "[{}] {cmd} took {:?} while Frigate was slow",
            w.label(),
            t.elapsed()
        );
    }
    let reply = starter
        .read_response(secs(10))
        .expect("a reply to the slow start");
    let waited = sent.elapsed();
    assert_eq!(error_code(&reply), "nvr_unavailable", "{reply}");
    assert!(
        waited >= Duration::from_millis(900) && waited < SLOW,
        "the slow start was answered after {waited:?} (timeout {TIMEOUT})"
    );
    assert_eq!(w.writes_since(mark), Vec::<String>::new());
    w.assert_nothing_left("slow Frigate", &cameras);
    eprintln!(
        "[{}] slow Frigate: nvr_unavailable after {waited:?}",
        w.label()
    );

    // Known limits, refused before anything is written.
    if version == FrigateVersion::V018 {
        w.fake.set_debug_replay(Some(SOURCE));
        refused_start(
            &w,
            "Frigate's own Debug Replay",
            "nvr_refused",
            "Debug Replay",
        );
        w.fake.set_debug_replay(None);
    }
    // Someone else's camera of that name (the ledger does not name it).
    w.fake.add_camera(REPLAY);
    refused_start(
        &w,
        "a camera replayd did not publish",
        "nvr_refused",
        REPLAY,
    );
    assert!(
        w.fake.file_camera(REPLAY).is_some(),
        "someone else's camera was touched"
    );
}

/// 0.17 with exactly one configured camera cannot take a runtime camera.
#[test]
fn v017_with_one_camera_is_refused() {
    let mut w = World::new(FrigateVersion::V017, &["front"]);
    w.spawn();
    refused_start(
        &w,
        "0.17 with one camera",
        "nvr_refused",
        "exactly one configured camera",
    );
}

/// The check passes, Frigate refuses the add with a 400: the job fails
/// with Frigate's message and nothing is left.
fn refused_add_leaves_nothing(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let cameras = w.fake.cameras();
    let mark = w.fake.requests().len();
    w.fake.inject_on(
        "PUT",
        "/api/config/set",
        Fault::BadRequest("Error saving config: fake refusal".into()),
    );
    let mut events = Client::subscribe(w.root.socket());
    let reply = w.client().request(&w.start_request());
    assert_eq!(reply["ok"], true, "{reply}");
    let end = wait_job_end(&mut events, w.daemon());
    assert!(is_job(&end, "failed"), "{end}");
    let message = end["job"]["error_message"].as_str().unwrap_or("");
    assert!(message.contains("fake refusal"), "{message}");
    // Only the refused add was written.
    let writes = w.writes_since(mark);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let settled = wait_until(secs(3), || w.status()["pending_removals"] == json!([]));
    assert!(settled, "{}", w.status());
    w.assert_nothing_left("refused add", &cameras);
}

// ---- 3. an add whose outcome is unknown ----

fn add_of_unknown_outcome_is_removed(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let cameras = w.fake.cameras();
    let mark = w.fake.requests().len();
    w.fake
        .inject_on("PUT", "/api/config/set", Fault::DropAfterApply);
    let mut events = Client::subscribe(w.root.socket());
    let reply = w.client().request(&w.start_request());
    assert_eq!(reply["ok"], true, "{reply}");
    let end = wait_job_end(&mut events, w.daemon());
    assert!(is_job(&end, "failed"), "{end}");
    eprintln!(
        "[{}] dropped add: {}",
        w.label(),
        end["job"]["error_message"]
    );
    // Frigate did add it; replayd removes it.
    let gone = wait_until(secs(5), || {
        !w.fake.cameras().iter().any(|c| c == REPLAY) && w.status()["pending_removals"] == json!([])
    });
    assert!(
        gone,
        "[{}] {REPLAY} left in Frigate: {:?}\n{}",
        w.label(),
        w.fake.cameras(),
        w.report()
    );
    w.assert_removal_sent(mark);
    w.assert_nothing_left("dropped add", &cameras);
}

// ---- 4. faults at stop ----

fn stop_while_frigate_is_down_or_busy(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let cameras = w.fake.cameras();

    // Down.
    w.start_ready();
    let notes = w.daemon().notifications().len();
    w.fake.set_down(true);
    let stop = w.stop();
    pending_after_stop(&w, &stop, notes, "Frigate down");
    // Frigate is back: the removal goes through within the back-off.
    std::thread::sleep(Duration::from_millis(500));
    let mark = w.fake.requests().len();
    w.fake.set_down(false);
    let t = Instant::now();
    removed_eventually(&w, "Frigate back");
    eprintln!(
        "[{label}] removed {:?} after Frigate came back",
        t.elapsed()
    );
    w.assert_removal_sent(mark);
    w.assert_nothing_left("Frigate back", &cameras);
    assert!(
        w.daemon()
            .wait_notification_after(notes, secs(3), |m| m == "STATUS=idle")
            .is_some(),
        "{:?}",
        w.daemon().notifications()
    );

    // Busy: 0.18's delete lock (409), 0.17's config/set lock (503), twice.
    w.start_ready();
    let notes = w.daemon().notifications().len();
    let (method, path, fault) = match version {
        FrigateVersion::V018 => ("DELETE", "/api/cameras/", Fault::Conflict),
        FrigateVersion::V017 => ("PUT", "/api/config/set", Fault::Busy),
    };
    w.fake.inject_on(method, path, fault.clone());
    w.fake.inject_on(method, path, fault);
    let stop = w.stop();
    pending_after_stop(&w, &stop, notes, "Frigate busy");
    removed_eventually(&w, "Frigate no longer busy");
    assert_eq!(w.fake.pending_faults(), 0);
    w.assert_nothing_left("Frigate no longer busy", &cameras);
}

/// Stop answered `ok` with a warning; everything local is gone; the
/// camera is a pending removal in status, STATUS= and the ledger.
fn pending_after_stop(w: &World, stop: &Value, notes: usize, context: &str) {
    let label = w.label();
    let warnings = stop["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains(REPLAY))),
        "[{label}] {context}: no warning: {stop}"
    );
    let status = w.status();
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(
        status["pending_removals"],
        json!([REPLAY]),
        "[{label}] {context}: {status}"
    );
    assert!(!w.root.replay_dir().join(REPLAY).exists());
    assert!(!w.root.camera_file(REPLAY).exists());
    assert_eq!(w.stored_session(), Value::Null);
    assert_eq!(w.ledger_cameras(), vec![REPLAY.to_string()]);
    let line = w.daemon().wait_notification_after(notes, secs(3), |m| {
        m.starts_with("STATUS=") && m.contains(&format!("removal of {REPLAY} pending"))
    });
    assert!(
        line.is_some(),
        "[{label}] {context}: STATUS= never said the removal is pending: {:?}",
        w.daemon().notifications()
    );
    eprintln!("[{label}] {context}: {}", line.unwrap());
}

fn removed_eventually(w: &World, context: &str) {
    let done = wait_until(secs(6), || {
        w.status()["pending_removals"] == json!([])
            && !w.fake.cameras().iter().any(|c| c == REPLAY)
            && w.ledger_cameras().is_empty()
    });
    assert!(
        done,
        "[{}] {context}: not removed: status {}, Frigate {:?}, ledger {}\n{}",
        w.label(),
        w.status(),
        w.fake.cameras(),
        w.ledger(),
        w.report()
    );
}

// ---- 5. kill -9: recovery and boot cleanup ----

fn boot_cleanup_and_recovery(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let cameras = w.fake.cameras();

    // A crash: resumed, the same camera and deadline.
    let before = w.start_ready();
    let adds = w.fake.requests().iter().filter(|r| is_add(r)).count();
    w.kill();
    w.spawn();
    let after = w.status();
    assert_eq!(after["session"]["state"], "ready", "{after}");
    assert_eq!(
        after["session"]["auto_stop_at"], before["session"]["auto_stop_at"],
        "[{label}] the deadline moved"
    );
    assert_eq!(w.replay_cameras(), vec![REPLAY.to_string()]);
    assert_eq!(
        w.fake.requests().iter().filter(|r| is_add(r)).count(),
        adds,
        "[{label}] re-added although Frigate still had it"
    );
    assert_eq!(w.ledger_cameras(), vec![REPLAY.to_string()]);

    // A reboot: session.json is gone, the ledger is kept.
    w.kill();
    fs::remove_file(w.root.session_file()).expect("remove session.json");
    let mark = w.fake.requests().len();
    let t = Instant::now();
    w.spawn();
    let at_ready = w.replay_cameras();
    eprintln!(
        "[{label}] boot cleanup: READY after {:?}, replay cameras in Frigate then: {at_ready:?}",
        t.elapsed()
    );
    assert!(
        at_ready.is_empty(),
        "[{label}] {REPLAY} still in Frigate at READY (boot cleanup removes it before)\n{}",
        w.report()
    );
    w.assert_removal_sent(mark);
    w.assert_nothing_left("boot cleanup", &cameras);
}

/// Frigate down when replayd restarts: a crashed session is resumed anyway
/// (Frigate keeps the camera in its config.yml); after a reboot the
/// camera's removal is owed, retried until Frigate is back, and its files
/// go once Frigate confirmed.
fn recovery_and_boot_cleanup_while_frigate_is_down(version: FrigateVersion) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let cameras = w.fake.cameras();

    let before = w.start_ready();
    w.kill();
    w.fake.set_down(true);
    w.spawn();
    let after = w.status();
    assert_eq!(after["session"]["state"], "ready", "[{label}] {after}");
    assert_eq!(
        after["session"]["auto_stop_at"],
        before["session"]["auto_stop_at"]
    );

    // A reboot while Frigate is still down.
    w.kill();
    fs::remove_file(w.root.session_file()).expect("remove session.json");
    let t = Instant::now();
    w.spawn();
    assert!(
        t.elapsed() < secs(5),
        "[{label}] READY took {:?} with Frigate down",
        t.elapsed()
    );
    let status = w.status();
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(
        status["pending_removals"],
        json!([REPLAY]),
        "[{label}] {status}"
    );
    assert_eq!(w.ledger_cameras(), vec![REPLAY.to_string()]);
    assert!(
        w.daemon()
            .wait_notification(secs(3), |m| m.starts_with("STATUS=")
                && m.contains(&format!("removal of {REPLAY} pending")))
            .is_some(),
        "{:?}",
        w.daemon().notifications()
    );

    let mark = w.fake.requests().len();
    w.fake.set_down(false);
    removed_eventually(&w, "Frigate back after a reboot");
    w.assert_removal_sent(mark);
    let local = wait_until(secs(3), || !w.root.replay_dir().join(REPLAY).exists());
    assert!(local, "[{label}] replay folder left after the removal");
    w.assert_nothing_left("boot cleanup once Frigate is back", &cameras);
}

/// replayd is killed twice while a slow Frigate works on its add: the
/// restart gives up the session ("interrupted twice") and boot cleanup
/// removes the camera before Frigate applied the adds of the dead daemons,
/// which land afterwards. The ledger no longer names the camera, but
/// Frigate runs it from replayd's replay folder: the next start of the
/// source takes it back (SPEC §1, ownership proven by the NVR) instead of
/// refusing it as someone else's.
fn stray_from_a_crashed_slow_add_is_taken_back(version: FrigateVersion) {
    const SLOW_ADD: Duration = Duration::from_millis(2000);
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let cameras = w.fake.cameras();
    let adds = |w: &World| w.fake.requests().iter().filter(|r| is_add(r)).count();

    w.fake
        .inject_on("PUT", "/api/config/set", Fault::Delay(SLOW_ADD));
    let reply = w.client().request(&w.start_request());
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        wait_until(secs(10), || adds(&w) == 1),
        "no add\n{}",
        w.report()
    );
    let first_kill = Instant::now();
    w.kill();
    // The restart prepares the clip again and adds again: slow too.
    w.fake
        .inject_on("PUT", "/api/config/set", Fault::Delay(SLOW_ADD));
    w.spawn();
    assert!(
        wait_until(secs(10), || adds(&w) == 2),
        "no second add\n{}",
        w.report()
    );
    let second_add = Instant::now();
    w.kill();
    w.spawn();
    let status = w.status();
    assert_eq!(status["session"]["active"], false, "{status}");
    assert!(
        first_kill.elapsed() < SLOW_ADD,
        "[{label}] too slow to race the delayed adds: {:?}",
        first_kill.elapsed()
    );
    // The dead daemons' adds land.
    std::thread::sleep((second_add + SLOW_ADD + Duration::from_millis(300)) - Instant::now());
    eprintln!(
        "[{label}] after the adds of the dead daemons landed: Frigate runs {:?}, ledger {:?} \
         (a camera here that the ledger does not name is the race this test covers)",
        w.replay_cameras(),
        w.ledger_cameras()
    );

    // The next start takes the camera back and publishes its own.
    let status = w.start_ready();
    let clip = status["session"]["clip_path"].clone();
    assert_eq!(w.replay_cameras(), vec![REPLAY.to_string()]);
    let running = w.fake.running_camera(REPLAY).expect("published");
    assert_eq!(input_path(&running), clip, "[{label}]");
    w.stop();
    w.assert_nothing_left("after the stray was taken back", &cameras);
}

/// A stop while Frigate is still working on the add, which it answers
/// within `publish.frigate.timeout`: the camera is taken back once the add
/// is answered, never left published after its session stopped (SPEC §2).
fn stop_during_a_slow_add(version: FrigateVersion) {
    stop_during_an_add_delayed(version, Duration::from_millis(600));
}

/// The same when Frigate applies the add only after replayd gave up on it
/// (unknown outcome, treated as added): the removal that follows finds no
/// camera yet (0.18: DELETE → 404; 0.17: not in GET /api/config), takes
/// that as done and dropped the ledger entry; the add landed afterwards and
/// Frigate ran a camera that nothing accounted for. "Absent" is believed
/// only three request timeouts after an unknown outcome now; until then the
/// removal looks again.
#[test]
fn v017_add_applied_after_its_timeout_is_removed() {
    stop_during_an_add_delayed(FrigateVersion::V017, SLOW);
}

#[test]
fn v018_add_applied_after_its_timeout_is_removed() {
    stop_during_an_add_delayed(FrigateVersion::V018, SLOW);
}

fn stop_during_an_add_delayed(version: FrigateVersion, delay: Duration) {
    let mut w = World::new(version, &CAMERAS);
    w.spawn();
    let label = w.label();
    let cameras = w.fake.cameras();
    w.fake
        .inject_on("PUT", "/api/config/set", Fault::Delay(delay));
    let reply = w.client().request(&w.start_request());
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        wait_until(secs(10), || w.fake.requests().iter().any(is_add)),
        "no add\n{}",
        w.report()
    );
    let sent = Instant::now();
    let stop = w.stop();
    assert_eq!(stop["warnings"], json!([]), "{stop}");
    // Until well after Frigate applied the add.
    std::thread::sleep(
        (sent + delay + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    );
    let clean = wait_until(secs(5), || {
        w.replay_cameras().is_empty()
            && w.ledger_cameras().is_empty()
            && w.status()["pending_removals"] == json!([])
    });
    assert!(
        clean,
        "[{label}] add delayed {delay:?}, stopped meanwhile: Frigate runs {:?}, ledger {:?}, \
         pending {}, requests {:?}\n{}",
        w.replay_cameras(),
        w.ledger_cameras(),
        w.status()["pending_removals"],
        w.fake.requests().iter().map(describe).collect::<Vec<_>>(),
        w.report()
    );
    w.assert_nothing_left("stop during a slow add", &cameras);
}

/// `publish.frigate.token_file`: the bearer token, re-read on each use.
#[test]
fn bearer_token_from_token_file() {
    let mut w = World::new(FrigateVersion::V018, &CAMERAS);
    let path = w.root.path().join("token");
    let value = toml_str(&path.to_string_lossy());
    w.root.update_toml(|t| {
        t.extra
            .push(("publish.frigate".into(), "token_file".into(), value))
    });
    fs::write(&path, "first-token\n").unwrap();
    w.fake.require_token(Some("first-token"));
    w.spawn();
    let mark = w.fake.requests().len();
    w.start_ready();
    w.stop();
    let requests = w.requests_since(mark);
    assert!(
        requests
            .iter()
            .all(|r| r.header("Authorization") == Some("Bearer first-token")),
        "{:?}",
        requests
            .iter()
            .map(|r| (describe(r), r.header("Authorization").map(str::to_string)))
            .collect::<Vec<_>>()
    );

    // Frigate wants another token: refused, naming the key; once the file
    // holds it, the next start works without a restart.
    w.fake.require_token(Some("second-token"));
    refused_start(
        &w,
        "an expired token",
        "nvr_unavailable",
        "publish.frigate.token_file",
    );
    fs::write(&path, "second-token\n").unwrap();
    w.start_ready();
    w.stop();
    w.assert_nothing_left("token rotated", &configured());
}

// ---- 6. the Docker layout ----

/// Frigate's paths in the DB and NVR config, its files under the test root,
/// no `[nvr.mounts]`: the implied mounts `/media/frigate → ROOT/media` and
/// `/config → ROOT/config` apply.
#[test]
fn docker_layout_publishes_container_paths() {
    let mut w = World::shaped(FrigateVersion::V018, &CAMERAS, |b| {
        b.toml(|t| {
            t.extra.retain(|(section, _, _)| section != "nvr.mounts");
            // From `database.path` of the NVR config, mapped.
            t.database = None;
        })
    });
    let root = &w.root;
    assert!(!root.toml().render().contains("[nvr.mounts]"));
    root.write_nvr_config(&NVR_CONFIG.replace("{DB}", "/config/frigate.db"));
    let media = root.media().to_string_lossy().into_owned();
    let conn = root.db();
    let rows = conn
        .execute(
            "UPDATE recordings SET path = '/media/frigate' || substr(path, length(?1) + 1) \
             WHERE substr(path, 1, length(?1) + 1) = ?1 || '/'",
            [&media],
        )
        .expect("container paths");
    assert_eq!(rows, SEGMENTS);
    conn.execute(
        "UPDATE export SET video_path = '/media/frigate' || substr(video_path, length(?1) + 1)",
        [&media],
    )
    .expect("export path");
    drop(conn);

    // --check-config with the fake Frigate answering: the container
    // database resolves, Frigate is asked.
    let (code, text) = check_config(root);
    assert_eq!(code, Some(0), "--check-config:\n{text}");
    eprintln!("--check-config:\n{text}");
    let database = root.db_path();
    assert!(
        text.contains(&format!("database: {}", database.display())),
        "{text}"
    );
    assert!(text.contains("Frigate 0.18.0-fake"), "{text}");
    // Frigate down: exit 78, naming the key to fix.
    w.fake.set_down(true);
    let (code, text) = check_config(root);
    w.fake.set_down(false);
    assert_eq!(code, Some(78), "--check-config with Frigate down:\n{text}");
    assert!(text.contains("publish.frigate.url"), "{text}");

    w.spawn();
    let mut events = Client::subscribe(w.root.socket());
    let reply = w.client().request(&w.start_request());
    assert_eq!(reply["ok"], true, "{reply}\n{}", w.report());
    let end = wait_job_end(&mut events, w.daemon());
    assert!(is_job(&end, "success"), "{end}\n{}", w.report());
    let status = w.status();
    // The clip (copy mode) or the playlist of the links (link mode).
    let name = match status["session"]["clip_mode"].as_str() {
        Some("link") => "playlist.ffconcat",
        _ => "clip.mp4",
    };
    let clip = w.root.replay_dir().join(REPLAY).join(name);
    assert_eq!(
        status["session"]["clip_path"],
        clip.to_string_lossy().as_ref()
    );
    assert!(clip.is_file());
    let running = w.fake.running_camera(REPLAY).expect("published");
    assert_eq!(
        input_path(&running),
        format!("/media/frigate/replayd/{REPLAY}/{name}")
    );
    let camera_file = fs::read_to_string(w.root.camera_file(REPLAY)).expect("camera file");
    assert!(
        camera_file.contains(&format!("/media/frigate/replayd/{REPLAY}/{name}")),
        "{camera_file}"
    );
    let mark = w.fake.requests().len();
    w.stop();
    w.assert_removal_sent(mark);
    w.assert_nothing_left("docker layout stop", &configured());
}

/// `replayd --check-config` on the root's replayd.toml: exit code, output.
fn check_config(root: &TestRoot) -> (Option<i32>, String) {
    let mut cmd = Command::new(replayd_bin());
    for name in SCRUBBED_ENV {
        cmd.env_remove(name);
    }
    let out = cmd
        .arg("--config")
        .arg(root.toml_path())
        .arg("--check-config")
        .output()
        .expect("run replayd --check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

// ---- a segment gone between the start's check and its link ----

/// The NVR's retention deletes a segment while Frigate answers the start's
/// check (slowly, within the timeout): link mode skips it with a warning
/// that names it, as the check skips one already gone, and the playlist
/// leaves it out. Found in review of the link step: the job failed
/// ("cannot link: segment … does not exist").
#[test]
fn a_segment_deleted_while_the_nvr_is_checked_is_skipped_in_link_mode() {
    let mut w = World::new(FrigateVersion::V018, &["front", "back"]);
    w.spawn();
    // The first request of the check (GET /api/version) takes a while.
    w.fake.inject_on(
        "GET",
        "/api/version",
        Fault::Delay(Duration::from_millis(700)),
    );
    let mut events = Client::subscribe(w.root.socket());
    let mut starter = w.client();
    let mut line = w.start_request().to_string();
    line.push('\n');
    starter.send_raw(line.as_bytes());
    // The range is base+1 .. base+9 over 2 s segments: the third one,
    // base+4 .. base+6, is in the middle of it.
    let base = w.root.base_time();
    let victim = w
        .root
        .segments()
        .into_iter()
        .find(|s| (s.start - (base + 4.0)).abs() < 0.01)
        .expect("a segment at base+4")
        .path
        .clone();
    std::thread::sleep(Duration::from_millis(250));
    fs::remove_file(&victim).unwrap();
    let reply = starter.read_response(secs(10)).expect("start reply");
    assert_eq!(reply["ok"], true, "{reply}\n{}", w.report());
    let end = wait_job_end(&mut events, w.daemon());
    assert!(is_job(&end, "success"), "{end}\n{}", w.report());
    let status = w.status();
    let session = &status["session"];
    assert_eq!(session["clip_mode"], "link", "{status}");
    let warnings = session["warnings"].to_string();
    assert!(
        warnings.contains(&victim.display().to_string()) && warnings.contains("gone since"),
        "{warnings}"
    );
    let playlist = fs::read_to_string(session["clip_path"].as_str().unwrap()).unwrap();
    assert!(!playlist.contains("file 000002.mp4"), "{playlist}");
    assert!(playlist.contains("file 000001.mp4") && playlist.contains("file 000003.mp4"));
    assert_eq!(w.client().cmd("stop")["ok"], true);
}
