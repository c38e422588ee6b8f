//! The Frigate conformance suite: the real `replayd` against Frigate's real
//! HTTP API (0.17.2 and 0.18, Frigate's own code run by the shared
//! `run_frigate_api.py`), in the Docker layout: Frigate's config and
//! database hold container paths (`/config`, `/media/frigate`), replayd runs
//! on the host with the config a Docker user writes (`[nvr] config`,
//! `media_dir`, `[publish] to = "frigate"`).
//!
//! Not part of `cargo test`: run it with `tests/conformance/run.sh`, or
//! `cargo test --features conformance --test conformance` after
//! `eval "$(bash ../shared/frigate-api/setup.sh)"` (tests/conformance/README.md).
//! Without the runner's variables every test fails, saying how to set them.
//!
//! Every scenario is one function run once per Frigate version.

mod common;

use common::docker_layout::{DockerLayout, DockerLayoutBuilder};
use common::frigate_runner::{
    http_request, is_bus_message, is_subscriber_update, BusEvents, FrigateEnv, FrigateRunner,
    FrigateVersion,
};
use common::http_trace::HttpTrace;
use common::{error_code, secs, wait_job_end, wait_until, Client, Daemon};
use serde_json::{json, Value};
use std::fs;
use std::time::{Duration, Instant};

const SOURCE: &str = "front";
const REPLAY: &str = "_replay_front";
/// How long a bus message may take to land in the events file.
const BUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Frigate's own camera that happens to carry replayd's prefix (scenario 6).
const OWN_REPLAY_CAMERA: &str = "  _replay_front:
    ffmpeg:
      inputs:
        - path: rtsp://10.0.0.9:554/own-replay
          roles: [detect]
    detect: {enabled: true, width: 1280, height: 720, fps: 5}
";

// ---- one scenario's world ----

/// A Docker-layout root, Frigate's runner on it and (once spawned) replayd.
/// Fields drop in order: replayd first, then Frigate, then the temp dir.
struct World {
    daemon: Option<Daemon>,
    /// `CONFORMANCE_HTTP_TRACE=1`: replayd talks to Frigate through a
    /// recording proxy (`ROOT/http-trace.log`).
    trace: Option<HttpTrace>,
    frigate: FrigateRunner,
    bus: BusEvents,
    layout: DockerLayout,
    version: FrigateVersion,
}

impl World {
    /// The layout (`shape` adjusts it), Frigate serving on it, replayd.toml
    /// pointing at it. replayd is not started yet.
    fn new(
        version: FrigateVersion,
        shape: impl FnOnce(DockerLayoutBuilder) -> DockerLayoutBuilder,
    ) -> World {
        let env = FrigateEnv::from_env();
        let layout = shape(DockerLayout::builder(version)).build(&env);
        let frigate = FrigateRunner::start(&env, version, layout.path());
        let trace = std::env::var_os("CONFORMANCE_HTTP_TRACE")
            .filter(|v| !v.is_empty())
            .map(|_| HttpTrace::start(frigate.port(), &layout.path().join("http-trace.log")));
        layout.write_replayd_toml(trace.as_ref().map_or(frigate.port(), HttpTrace::port));
        World {
            daemon: None,
            trace,
            frigate,
            bus: BusEvents::new(layout.path()),
            layout,
            version,
        }
    }

    fn label(&self) -> &'static str {
        self.version.label()
    }

    /// Starts replayd (waits for READY=1).
    fn spawn_daemon(&mut self) {
        assert!(self.daemon.is_none(), "replayd already running");
        self.daemon = Some(Daemon::spawn(self.layout.test_root()));
    }

    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("replayd is running")
    }

    /// SIGKILL, reaped.
    fn kill_daemon(&mut self) {
        let mut daemon = self.daemon.take().expect("replayd is running");
        daemon.sigkill();
        daemon.wait_exit(secs(5));
    }

    fn client(&self) -> Client {
        self.daemon().client()
    }

    fn status(&self) -> Value {
        let status = self.client().cmd("status");
        assert_eq!(status["ok"], true, "status: {status}");
        status
    }

    /// Cameras with replayd's prefix in Frigate's in-memory config.
    fn replay_cameras_in_frigate(&self) -> Vec<String> {
        prefixed(self.frigate.camera_names())
    }

    /// Cameras with replayd's prefix in Frigate's config.yml.
    fn replay_cameras_in_config_yml(&self) -> Vec<String> {
        prefixed(self.layout.nvr_config_cameras())
    }

    /// Starts a replay of `front` over most of its recordings and waits
    /// until the job succeeded; prints the time from the request to
    /// `ready`. Returns the status then.
    fn start_to_ready(&self) -> Value {
        self.start_to_ready_with(json!({}))
    }

    /// [`World::start_to_ready`] with more fields in the start request
    /// (speed, overrides, clip_mode).
    fn start_to_ready_with(&self, options: Value) -> Value {
        let mut events = Client::subscribe(self.daemon().socket());
        let mut client = self.client();
        let (t0, t1) = self.layout.front_range();
        let mut req = json!({"cmd": "start", "camera": SOURCE,
                             "start_time": t0 + 1.0, "end_time": t1 - 3.0});
        for (key, value) in options.as_object().into_iter().flatten() {
            req[key] = value.clone();
        }
        let started = Instant::now();
        let reply = client.request(&req);
        assert_eq!(reply["ok"], true, "start {req} refused: {reply}");
        assert_eq!(reply["replay_camera"], REPLAY, "{reply}");
        let end = wait_job_end(&mut events, self.daemon());
        let elapsed = started.elapsed();
        assert_eq!(end["job"]["status"], "success", "the job failed: {end}");
        let status = self.status();
        assert_eq!(status["session"]["state"], "ready", "{status}");
        eprintln!(
            "conformance [Frigate {}]: start → ready through the Frigate publisher in {:.3} s \
             (clip mode {})",
            self.label(),
            elapsed.as_secs_f64(),
            status["session"]["clip_mode"]
        );
        status
    }

    /// The replay camera is published: in Frigate's memory and config.yml
    /// with the container path of the session's clip or playlist and the
    /// source's detection settings, and Frigate's bus announced the add
    /// (after `mark`). Returns the published input path.
    fn assert_published(&self, status: &Value, mark: usize) -> String {
        let label = self.label();
        // The host file replayd made, and its container path.
        let clip = status["session"]["clip_path"]
            .as_str()
            .unwrap_or_else(|| panic!("no clip_path in {status}"));
        let clip = std::path::PathBuf::from(clip);
        assert!(
            clip.starts_with(self.layout.replay_camera_dir(REPLAY)),
            "clip {} not in {}",
            clip.display(),
            self.layout.replay_camera_dir(REPLAY).display()
        );
        assert!(clip.is_file(), "clip {} missing", clip.display());
        let container = self
            .layout
            .container_path(&clip)
            .expect("clip under the media dir");

        // Frigate's in-memory config (GET /api/config, cache bypassed).
        let config = self.frigate.api_config();
        let replay = &config["cameras"][REPLAY];
        let source = &config["cameras"][SOURCE];
        assert!(
            replay.is_object(),
            "[{label}] {REPLAY} not in Frigate's config: cameras {:?}",
            self.frigate.camera_names()
        );
        let inputs = replay["ffmpeg"]["inputs"].as_array().expect("inputs");
        assert_eq!(inputs.len(), 1, "[{label}] inputs: {inputs:?}");
        assert_eq!(
            inputs[0]["path"],
            container,
            "[{label}] published input path (container path of {})",
            clip.display()
        );
        assert!(
            inputs[0]["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == "detect")),
            "[{label}] roles: {}",
            inputs[0]["roles"]
        );
        assert_eq!(replay["enabled"], true, "[{label}] enabled");
        assert_eq!(
            replay["detect"]["enabled"], true,
            "[{label}] detect.enabled"
        );
        // The source's detection settings, as Frigate itself parsed both.
        for section in ["detect", "zones", "motion", "objects"] {
            assert_eq!(
                replay[section], source[section],
                "[{label}] section {section} of {REPLAY} differs from {SOURCE}'s in GET /api/config"
            );
        }
        assert!(
            replay["zones"]["porch"]["coordinates"].is_string()
                || replay["zones"]["porch"]["coordinates"].is_array(),
            "[{label}] zone porch: {}",
            replay["zones"]
        );
        for (section, key) in [("record", "enabled"), ("snapshots", "enabled")] {
            assert_eq!(replay[section][key], false, "[{label}] {section}.{key}");
        }

        // config.yml on the host holds the container path too.
        let yaml = self.layout.nvr_config_yaml();
        let yaml_path = yaml["cameras"][REPLAY]["ffmpeg"]["inputs"][0]["path"].as_str();
        assert_eq!(
            yaml_path,
            Some(container.as_str()),
            "[{label}] config.yml's {REPLAY} input"
        );

        // Frigate's bus: the add was published and Frigate's own
        // subscriber (the camera maintainer's) registered the camera.
        for (what, pred) in [
            (
                "bus message config/cameras/_replay_front/add",
                is_bus_message as fn(&Value, &str, &str) -> bool,
            ),
            ("CameraConfigUpdateSubscriber add", is_subscriber_update),
        ] {
            assert!(
                self.bus
                    .wait_for(mark, BUS_TIMEOUT, |e| pred(e, REPLAY, "add"))
                    .is_some(),
                "[{label}] no {what} within {BUS_TIMEOUT:?}; events since the mark:\n{}",
                self.bus.digest(mark)
            );
        }
        container
    }

    /// The replay camera is gone from Frigate (memory and config.yml) and
    /// from the replay dir, and the bus announced the remove after `mark`.
    ///
    /// `loaded_at_frigate_start`: Frigate restarted since the add, so it
    /// loaded the camera from config.yml. Frigate 0.17.2's camera maintainer
    /// (`CameraConfigUpdateSubscriber(config, {}, …)`) never heard that
    /// camera's add, and its remove branch pops it from that empty dict:
    /// KeyError in the maintainer's thread (0.18 pops with a default). That
    /// is Frigate's own code; it is reported, not failed.
    fn assert_removed(&self, mark: usize, loaded_at_frigate_start: bool) {
        let label = self.label();
        assert_eq!(
            self.replay_cameras_in_frigate(),
            Vec::<String>::new(),
            "[{label}] replay cameras left in Frigate's config"
        );
        assert_eq!(
            self.replay_cameras_in_config_yml(),
            Vec::<String>::new(),
            "[{label}] replay cameras left in config.yml"
        );
        assert!(
            self.bus
                .wait_for(mark, BUS_TIMEOUT, |e| is_bus_message(e, REPLAY, "remove"))
                .is_some(),
            "[{label}] no bus message config/cameras/{REPLAY}/remove within {BUS_TIMEOUT:?}; \
             events since the mark:\n{}",
            self.bus.digest(mark)
        );
        let known_017_keyerror = |e: &Value| {
            self.version == FrigateVersion::V017
                && loaded_at_frigate_start
                && e["source"] == "CameraConfigUpdateSubscriber"
                && e["error"] == format!("KeyError('{REPLAY}')")
        };
        let seen = self.bus.wait_for(mark, BUS_TIMEOUT, |e| {
            is_subscriber_update(e, REPLAY, "remove") || known_017_keyerror(e)
        });
        match seen {
            Some(e) if known_017_keyerror(&e) => eprintln!(
                "conformance [Frigate {label}]: FRIGATE 0.17 LIMITATION: its camera maintainer's \
                 subscriber raised {} on the remove of {REPLAY}, which Frigate loaded from \
                 config.yml at its start (camera_configs {{}} never got it)",
                e["error"]
            ),
            Some(_) => {}
            None => panic!(
                "[{label}] Frigate's CameraConfigUpdateSubscriber did not process the remove \
                 within {BUS_TIMEOUT:?}; events since the mark:\n{}",
                self.bus.digest(mark)
            ),
        }
        let dir = self.layout.replay_camera_dir(REPLAY);
        assert!(
            dir.symlink_metadata().is_err(),
            "[{label}] {} still exists",
            dir.display()
        );
    }

    /// replayd is idle with nothing pending.
    fn assert_idle(&self) {
        let status = self.status();
        assert_eq!(status["session"]["active"], false, "{status}");
        assert_eq!(status["pending_removals"], json!([]), "{status}");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let (true, Some(trace)) = (std::thread::panicking(), &self.trace) {
            let text = fs::read_to_string(trace.log_path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "--- {} (last 80 lines):\n{}\n--- end of HTTP trace",
                trace.log_path().display(),
                lines[lines.len().saturating_sub(80)..].join("\n")
            );
        }
    }
}

fn prefixed(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n.starts_with("_replay_"))
        .collect()
}

// ---- the harness on its own ----

/// The runner serves the version asked for on the Docker layout, reads the
/// config and database the layout wrote, and comes back on the same port
/// after a restart. No replayd, nothing added.
fn runner_serves_layout(version: FrigateVersion) {
    let env = FrigateEnv::from_env();
    let layout = DockerLayout::builder(version).build(&env);
    let mut frigate = FrigateRunner::start(&env, version, layout.path());
    let label = version.label();

    let v = frigate.api_version();
    assert!(
        v.starts_with(label),
        "GET /api/version: {v:?}, want {label}.x"
    );

    // The runner uses the layout's files, at the container paths' mounts.
    let canon = |p: std::path::PathBuf| fs::canonicalize(&p).unwrap_or(p);
    let ready = frigate.ready().clone();
    let ready_path = |k: &str| canon(ready[k].as_str().unwrap_or_default().into());
    assert_eq!(ready_path("config_file"), canon(layout.nvr_config_path()));
    assert_eq!(ready_path("db_file"), canon(layout.db_path()));
    assert_eq!(
        canon(
            ready["container_paths"]["/media/frigate"]
                .as_str()
                .unwrap()
                .into()
        ),
        canon(layout.media())
    );
    assert_eq!(
        canon(ready["events_file"].as_str().unwrap().into()),
        canon(frigate_events_path(&layout))
    );

    // Frigate parsed the layout's config: front and back, nothing else.
    let reply = frigate.get("/api/config");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-cache-status"), Some("BYPASS"));
    let mut cameras = frigate.camera_names();
    cameras.sort();
    assert_eq!(cameras, ["back", "front"]);
    let config = frigate.api_config();
    assert_eq!(config["cameras"]["front"]["detect"]["width"], 1280);
    assert!(config["cameras"]["front"]["zones"]["porch"].is_object());

    // Frigate reads the layout's database: front's segments, container paths.
    let (t0, t1) = layout.front_range();
    let recs = frigate.get_json(&format!(
        "/api/front/recordings?after={}&before={}",
        t0 as i64,
        t1 as i64 + 1
    ));
    let recs = recs.as_array().expect("recordings list");
    assert_eq!(
        recs.len(),
        layout.segments_of("front").len(),
        "GET /api/front/recordings: {recs:?}"
    );
    for s in layout.segments_of("front") {
        assert!(s.container_path.starts_with("/media/frigate/recordings/"));
        assert_eq!(
            layout.host_path(&s.container_path).as_ref(),
            Some(&s.host_path)
        );
        assert!(s.host_path.is_file());
    }

    // Nothing was added, so the bus said nothing.
    let bus = BusEvents::new(layout.path());
    assert!(bus.path().is_file(), "no {}", bus.path().display());
    assert_eq!(bus.all(), Vec::<Value>::new());

    // Restart on the same port (as scenario 2 does); no stale ready file.
    let port = frigate.port();
    frigate.stop();
    assert!(!frigate.is_running());
    assert!(!frigate.ready_file().exists(), "ready file left after stop");
    frigate.restart();
    assert_eq!(frigate.port(), port);
    assert!(frigate.api_version().starts_with(label));
    frigate.stop();
    assert!(!frigate.is_running());
}

/// A control for the bus-log polling the scenarios rely on: a camera the
/// harness itself adds and removes through Frigate's API (CONTRACT.md §2,
/// §3: config/set with the `add` topic, then `""` with `remove`) shows up in
/// the events file and in Frigate's config, then goes. No replayd.
fn bus_log_control(version: FrigateVersion) {
    let env = FrigateEnv::from_env();
    let layout = DockerLayout::builder(version).build(&env);
    let frigate = FrigateRunner::start(&env, version, layout.path());
    let bus = BusEvents::new(layout.path());
    let name = "harness_probe";
    let put = |body: Value| {
        let reply = http_request(frigate.port(), "PUT", "/api/config/set", Some(&body))
            .unwrap_or_else(|e| panic!("PUT /api/config/set: {e}"));
        assert_eq!(reply.status, 200, "config/set {body}: {}", reply.text());
    };

    put(json!({"requires_restart": 0,
               "update_topic": format!("config/cameras/{name}/add"),
               "config_data": {"cameras": {name: {
                   "enabled": true,
                   "ffmpeg": {"inputs": [{"path": "/media/frigate/replayd/probe.mp4",
                                          "roles": ["detect"]}]},
                   "detect": {"enabled": true, "width": 320, "height": 240, "fps": 5}}}}}));
    assert!(frigate.camera_names().iter().any(|c| c == name));
    assert!(layout.nvr_config_cameras().iter().any(|c| c == name));
    assert!(
        bus.wait_for(0, BUS_TIMEOUT, |e| is_bus_message(e, name, "add"))
            .is_some(),
        "no add on the bus:\n{}",
        bus.digest(0)
    );
    assert!(bus
        .wait_for(0, BUS_TIMEOUT, |e| is_subscriber_update(e, name, "add"))
        .is_some());

    let mark = bus.mark();
    put(json!({"requires_restart": 0,
               "update_topic": format!("config/cameras/{name}/remove"),
               "config_data": {"cameras": {name: ""}}}));
    assert!(!frigate.camera_names().iter().any(|c| c == name));
    assert!(!layout.nvr_config_cameras().iter().any(|c| c == name));
    assert!(bus
        .wait_for(mark, BUS_TIMEOUT, |e| is_bus_message(e, name, "remove"))
        .is_some());
    assert!(bus
        .wait_for(mark, BUS_TIMEOUT, |e| is_subscriber_update(
            e, name, "remove"
        ))
        .is_some());
    assert_eq!(bus.since(mark, |e| is_bus_message(e, name, "add")).len(), 0);
}

#[test]
fn bus_log_control_017() {
    bus_log_control(FrigateVersion::V017);
}

#[test]
fn bus_log_control_018() {
    bus_log_control(FrigateVersion::V018);
}

fn frigate_events_path(layout: &DockerLayout) -> std::path::PathBuf {
    layout.path().join("frigate-api-events.jsonl")
}

#[test]
fn runner_serves_layout_017() {
    runner_serves_layout(FrigateVersion::V017);
}

#[test]
fn runner_serves_layout_018() {
    runner_serves_layout(FrigateVersion::V018);
}

// ---- (1) start → published → stop → removed ----

fn start_then_stop(version: FrigateVersion) {
    let mut w = World::new(version, |b| b);
    let config_before = w.layout.nvr_config_yaml();
    let rows_before = w.layout.recording_rows();
    w.spawn_daemon();
    let mark = w.bus.mark();

    let ping = w.client().cmd("ping");
    assert_eq!(ping["protocol"], 2, "{ping}");
    assert_eq!(ping["publisher"], "frigate", "{ping}");

    // Both clip modes (SPEC §2): link publishes the playlist beside the
    // linked segments, copy the clip; Frigate's config model takes either
    // path as the camera's input.
    let mut mark = mark;
    for (mode, file) in [("link", "playlist.ffconcat"), ("copy", "clip.mp4")] {
        let status = w.start_to_ready_with(json!({ "clip_mode": mode }));
        assert_eq!(status["session"]["clip_mode"], mode, "{status}");
        let input = w.assert_published(&status, mark);
        assert_eq!(input, format!("/media/frigate/replayd/{REPLAY}/{file}"));

        mark = w.bus.mark();
        let reply = w.client().cmd("stop");
        assert_eq!(reply["ok"], true, "stop: {reply}");
        assert_eq!(
            reply["warnings"].as_array().map_or(0, Vec::len),
            0,
            "stop with Frigate up warned: {reply}"
        );
        w.assert_removed(mark, false);
        w.assert_idle();
        mark = w.bus.mark();
    }

    // Frigate's config is as it was (ruamel may re-format, the content is
    // the same) and its recordings untouched.
    assert_eq!(
        w.layout.nvr_config_yaml(),
        config_before,
        "[{}] config.yml differs after stop",
        w.label()
    );
    assert_eq!(w.layout.recording_rows(), rows_before);
}

#[test]
fn start_then_stop_017() {
    start_then_stop(FrigateVersion::V017);
}

#[test]
fn start_then_stop_018() {
    start_then_stop(FrigateVersion::V018);
}

// ---- (2) Frigate down at stop → pending removal → Frigate back → removed ----

fn frigate_down_at_stop(version: FrigateVersion) {
    let mut w = World::new(version, |b| b);
    w.spawn_daemon();
    let status = w.start_to_ready();
    w.assert_published(&status, 0);
    let port = w.frigate.port();

    w.frigate.stop();
    let stopped = Instant::now();
    let reply = w.client().cmd("stop");
    assert_eq!(reply["ok"], true, "stop with Frigate down: {reply}");
    let warnings = reply["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        !warnings.is_empty(),
        "stop with Frigate down must warn: {reply}"
    );
    eprintln!(
        "conformance [Frigate {}]: stop warnings: {warnings:?}",
        w.label()
    );
    let status = w.status();
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(status["pending_removals"], json!([REPLAY]), "{status}");
    // Local cleanup completed; Frigate's file still names the camera.
    assert!(w
        .layout
        .replay_camera_dir(REPLAY)
        .symlink_metadata()
        .is_err());
    assert_eq!(w.replay_cameras_in_config_yml(), [REPLAY]);

    let mark = w.bus.mark();
    w.frigate.restart();
    assert_eq!(
        w.frigate.port(),
        port,
        "the runner came back on another port"
    );
    let back = Instant::now();
    // Retries go 1 s, 2 s, 4 s …: the next one is due within the time
    // Frigate was down (doubling), so wait that long plus slack, ≥ 10 s.
    let budget = stopped.elapsed().max(secs(10)) + secs(5);
    let mut last = Value::Null;
    let removed = wait_until(budget, || {
        last = w.status();
        w.replay_cameras_in_config_yml().is_empty() && last["pending_removals"] == json!([])
    });
    assert!(
        removed,
        "[{}] removal not done {budget:?} after Frigate came back: config.yml cameras {:?}, \
         status {last}",
        w.label(),
        w.layout.nvr_config_cameras()
    );
    eprintln!(
        "conformance [Frigate {}]: pending removal done {:.1} s after Frigate came back \
         ({:.1} s after the stop)",
        w.label(),
        back.elapsed().as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    );
    w.assert_removed(mark, true);
    w.assert_idle();
}

#[test]
fn frigate_down_at_stop_017() {
    frigate_down_at_stop(FrigateVersion::V017);
}

#[test]
fn frigate_down_at_stop_018() {
    frigate_down_at_stop(FrigateVersion::V018);
}

// ---- (3) replayd killed mid-session → restarted → one camera, same deadline ----

fn replayd_killed_mid_session(version: FrigateVersion) {
    let mut w = World::new(version, |b| b);
    w.spawn_daemon();
    let before = w.start_to_ready();
    let input = w.assert_published(&before, 0);

    let mark = w.bus.mark();
    w.kill_daemon();
    w.spawn_daemon();
    let after = w.status();
    assert_eq!(after["session"]["active"], true, "{after}");
    assert_eq!(after["session"]["state"], "ready", "{after}");
    assert_eq!(after["session"]["replay_camera"], REPLAY, "{after}");
    let deadline = |s: &Value| s["session"]["auto_stop_at"].as_f64();
    let (d0, d1) = (deadline(&before), deadline(&after));
    assert!(
        d0.is_some() && d1.is_some() && (d0.unwrap() - d1.unwrap()).abs() < 1e-3,
        "auto_stop_at changed across the restart: {d0:?} → {d1:?}"
    );

    assert_eq!(
        w.replay_cameras_in_frigate(),
        [REPLAY],
        "[{}] replay cameras in Frigate after the restart",
        w.label()
    );
    assert_eq!(w.replay_cameras_in_config_yml(), [REPLAY]);
    let config = w.frigate.api_config();
    assert_eq!(
        config["cameras"][REPLAY]["ffmpeg"]["inputs"][0]["path"], input,
        "the camera's input changed across the restart"
    );
    let host = w.layout.host_path(&input).expect("input under a mount");
    assert!(host.is_file(), "{} gone after the restart", host.display());
    eprintln!(
        "conformance [Frigate {}]: bus after the restart:\n{}",
        w.label(),
        w.bus.digest(mark)
    );

    let mark = w.bus.mark();
    let reply = w.client().cmd("stop");
    assert_eq!(reply["ok"], true, "stop: {reply}");
    w.assert_removed(mark, false);
    w.assert_idle();
}

#[test]
fn replayd_killed_mid_session_017() {
    replayd_killed_mid_session(FrigateVersion::V017);
}

#[test]
fn replayd_killed_mid_session_018() {
    replayd_killed_mid_session(FrigateVersion::V018);
}

// ---- (4) reboot: session.json gone, ledger kept → boot cleanup ----

fn reboot_boot_cleanup(version: FrigateVersion) {
    let mut w = World::new(version, |b| b);
    w.spawn_daemon();
    let status = w.start_to_ready();
    w.assert_published(&status, 0);

    w.kill_daemon();
    // A reboot empties the runtime dir (tmpfs); the state dir stays.
    fs::remove_file(w.layout.session_file()).expect("remove session.json");
    let ledger = fs::read_to_string(w.layout.ledger_file())
        .unwrap_or_else(|e| panic!("{}: {e}", w.layout.ledger_file().display()));
    assert!(
        ledger.contains(REPLAY),
        "the ledger does not name {REPLAY}: {ledger}"
    );

    let mark = w.bus.mark();
    w.spawn_daemon();
    // SPEC §2: boot cleanup runs before READY=1. Whether it did is judged
    // after checking that the removal happens at all.
    let at_ready = w.replay_cameras_in_frigate();
    let ready = Instant::now();
    let mut status = Value::Null;
    let removed = wait_until(secs(10), || {
        status = w.status();
        w.replay_cameras_in_frigate().is_empty() && status["pending_removals"] == json!([])
    });
    assert!(
        removed,
        "[{}] boot cleanup did not remove {REPLAY} within 10 s of READY: Frigate's replay \
         cameras {:?}, status {status}",
        w.label(),
        w.replay_cameras_in_frigate()
    );
    w.assert_removed(mark, false);
    w.assert_idle();
    assert!(
        at_ready.is_empty(),
        "[{}] SPEC §2: boot cleanup runs before READY, but at READY Frigate still had {at_ready:?} \
         (removed {:.1} s later)",
        w.label(),
        ready.elapsed().as_secs_f64()
    );
    let ledger = fs::read_to_string(w.layout.ledger_file()).unwrap_or_default();
    assert!(
        !ledger.contains(REPLAY),
        "the ledger still names {REPLAY} after boot cleanup: {ledger}"
    );
}

#[test]
fn reboot_boot_cleanup_017() {
    reboot_boot_cleanup(FrigateVersion::V017);
}

#[test]
fn reboot_boot_cleanup_018() {
    reboot_boot_cleanup(FrigateVersion::V018);
}

// ---- refusals: nothing is written anywhere ----

/// Starts `front`, expects `nvr_refused`, and checks nothing was written:
/// config.yml byte-identical, no replay folder, no bus message for the
/// name, Frigate's cameras unchanged, replayd idle.
fn assert_start_refused(w: &World) {
    let label = w.label();
    let config_before = w.layout.nvr_config_bytes();
    let cameras_before = w.frigate.api_config()["cameras"].clone();
    let mark = w.bus.mark();
    let (t0, t1) = w.layout.front_range();

    let reply = w.client().request(&json!({"cmd": "start", "camera": SOURCE,
                                         "start_time": t0 + 1.0, "end_time": t1 - 3.0}));
    assert_eq!(
        error_code(&reply),
        "nvr_refused",
        "[{label}] start: {reply}"
    );
    eprintln!(
        "conformance [Frigate {label}]: start refused: {}",
        reply["error"]["message"]
    );

    assert!(
        w.layout.nvr_config_bytes() == config_before,
        "[{label}] config.yml changed:\n{}",
        String::from_utf8_lossy(&w.layout.nvr_config_bytes())
    );
    let dir = w.layout.replay_camera_dir(REPLAY);
    assert!(
        dir.symlink_metadata().is_err(),
        "[{label}] {} exists",
        dir.display()
    );
    assert_eq!(
        w.frigate.api_config()["cameras"],
        cameras_before,
        "[{label}] Frigate's cameras changed"
    );
    // Give a stray message time to land before checking there is none.
    std::thread::sleep(Duration::from_millis(500));
    let sent = w.bus.since(mark, |e| e["camera"] == REPLAY);
    assert!(
        sent.is_empty(),
        "[{label}] bus messages for {REPLAY}: {sent:?}"
    );
    w.assert_idle();
    let ledger = fs::read_to_string(w.layout.ledger_file()).unwrap_or_default();
    assert!(!ledger.contains(REPLAY), "[{label}] ledger: {ledger}");
}

// ---- (5) Frigate 0.17 with exactly one camera ----

#[test]
fn one_camera_refused_017() {
    let mut w = World::new(FrigateVersion::V017, DockerLayoutBuilder::only_front);
    assert_eq!(w.frigate.camera_names(), [SOURCE]);
    w.spawn_daemon();
    assert_start_refused(&w);
}

// ---- (6) Frigate's own camera with replayd's name ----

fn foreign_replay_camera(version: FrigateVersion) {
    let mut w = World::new(version, |b| b.camera_yaml(OWN_REPLAY_CAMERA));
    let own_input = "rtsp://10.0.0.9:554/own-replay";
    assert_eq!(
        w.frigate.api_config()["cameras"][REPLAY]["ffmpeg"]["inputs"][0]["path"],
        own_input
    );
    w.spawn_daemon();
    // replayd's boot did not touch it (the ledger does not name it).
    assert_eq!(w.replay_cameras_in_frigate(), [REPLAY]);
    assert_start_refused(&w);
    assert_eq!(
        w.frigate.api_config()["cameras"][REPLAY]["ffmpeg"]["inputs"][0]["path"],
        own_input
    );
}

#[test]
fn foreign_replay_camera_017() {
    foreign_replay_camera(FrigateVersion::V017);
}

#[test]
fn foreign_replay_camera_018() {
    foreign_replay_camera(FrigateVersion::V018);
}

// ---- (8) the tuning loop: speed, overrides, a live update, apply, stop ----

/// A YAML mapping's value at a dotted path.
fn yaml_at<'a>(value: &'a serde_yaml::Value, path: &str) -> Option<&'a serde_yaml::Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn tuning_loop(version: FrigateVersion) {
    let mut w = World::new(version, |b| b);
    let label = w.label();
    let config_before = w.layout.nvr_config_yaml();
    assert_eq!(
        yaml_at(&config_before, "cameras.front.motion.threshold"),
        Some(&serde_yaml::Value::from(35)),
        "the example config changed: front's motion.threshold"
    );
    w.spawn_daemon();

    // Start at speed 4 with an override.
    let status = w.start_to_ready_with(json!({
        "speed": 4, "overrides": {"motion": {"threshold": 25}}
    }));
    assert_eq!(status["session"]["speed"], 4.0, "{status}");
    let config = w.frigate.api_config();
    let replay = &config["cameras"][REPLAY];
    let args = replay["ffmpeg"]["inputs"][0]["input_args"].to_string();
    assert!(args.contains("-readrate 4"), "[{label}] input_args {args}");
    assert!(!args.contains("-re "), "[{label}] input_args {args}");
    assert_eq!(replay["motion"]["threshold"], 25, "[{label}] override");
    assert_eq!(config["cameras"][SOURCE]["motion"]["threshold"], 35);

    // A zone's inertia, live: Frigate hears the zones topic (both versions
    // have one) and its config holds the new value.
    let mark = w.bus.mark();
    let reply = w.client().request(&json!({
        "cmd": "update", "overrides": {"zones": {"porch": {"inertia": 7}}}
    }));
    assert_eq!(reply["ok"], true, "[{label}] update: {reply}");
    assert_eq!(reply["changed"], json!(["zones"]), "{reply}");
    assert_eq!(
        reply["overrides"],
        json!({"motion": {"threshold": 25}, "zones": {"porch": {"inertia": 7}}})
    );
    let config = w.frigate.api_config();
    assert_eq!(config["cameras"][REPLAY]["zones"]["porch"]["inertia"], 7);
    assert_eq!(config["cameras"][REPLAY]["motion"]["threshold"], 25);
    assert!(
        w.bus
            .wait_for(mark, BUS_TIMEOUT, |e| is_bus_message(e, REPLAY, "zones"))
            .is_some(),
        "[{label}] no bus message config/cameras/{REPLAY}/zones; since the mark:\n{}",
        w.bus.digest(mark)
    );

    // motion.threshold live: Frigate announces …/motion (both versions).
    let mark = w.bus.mark();
    let reply = w.client().request(&json!({
        "cmd": "update", "overrides": {"motion": {"threshold": 30}}
    }));
    assert_eq!(reply["ok"], true, "[{label}] update: {reply}");
    assert_eq!(reply["changed"], json!(["motion"]), "{reply}");
    assert_eq!(
        w.frigate.api_config()["cameras"][REPLAY]["motion"]["threshold"],
        30
    );
    assert!(
        w.bus
            .wait_for(mark, BUS_TIMEOUT, |e| is_bus_message(e, REPLAY, "motion"))
            .is_some(),
        "[{label}] no bus message config/cameras/{REPLAY}/motion; since the mark:\n{}",
        w.bus.digest(mark)
    );

    // A section 0.17 has no topic for goes out as remove + add there.
    let mark = w.bus.mark();
    let reply = w.client().request(&json!({
        "cmd": "update", "overrides": {"face_recognition": {"min_area": 600}}
    }));
    assert_eq!(reply["ok"], true, "[{label}] update: {reply}");
    assert_eq!(
        w.frigate.api_config()["cameras"][REPLAY]["face_recognition"]["min_area"],
        600
    );
    let heard = |what: &'static str| {
        w.bus
            .wait_for(mark, BUS_TIMEOUT, |e| is_bus_message(e, REPLAY, what))
            .is_some()
    };
    match version {
        FrigateVersion::V017 => assert!(
            heard("remove") && heard("add"),
            "[{label}] no remove + add for face_recognition; since the mark:\n{}",
            w.bus.digest(mark)
        ),
        FrigateVersion::V018 => assert!(
            heard("face_recognition"),
            "[{label}] no face_recognition topic; since the mark:\n{}",
            w.bus.digest(mark)
        ),
    }
    // An update Frigate's model refuses changes nothing.
    let before = w.frigate.api_config()["cameras"][REPLAY].clone();
    let reply = w.client().request(&json!({
        "cmd": "update", "overrides": {"motion": {"threshold": "high"}}
    }));
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["code"], "invalid_params", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("overrides.motion.threshold")),
        "{reply}"
    );
    assert_eq!(w.frigate.api_config()["cameras"][REPLAY], before);

    // Apply the zones: exactly that key changes in Frigate's config.yml.
    let yaml_before = w.layout.nvr_config_yaml();
    let reply = w
        .client()
        .request(&json!({"cmd": "apply", "sections": ["zones"]}));
    assert_eq!(reply["ok"], true, "[{label}] apply: {reply}");
    assert_eq!(
        reply["applied"],
        json!({"zones": {"porch.inertia": {"before": null, "after": 7}}}),
        "{reply}"
    );
    assert_eq!(reply["restart_needed"], json!([]), "{reply}");
    assert_eq!(
        w.frigate.api_config()["cameras"][SOURCE]["zones"]["porch"]["inertia"],
        7
    );
    let mut expected = yaml_before.clone();
    if let Some(serde_yaml::Value::Mapping(porch)) = expected
        .get_mut("cameras")
        .and_then(|c| c.get_mut(SOURCE))
        .and_then(|c| c.get_mut("zones"))
        .and_then(|z| z.get_mut("porch"))
    {
        porch.insert("inertia".into(), 7.into());
    }
    assert_eq!(
        w.layout.nvr_config_yaml(),
        expected,
        "[{label}] config.yml differs from before by more than zones.porch.inertia"
    );

    // Stop: the replay camera goes, the applied key stays; nothing else
    // differs from the config before the session.
    let mark = w.bus.mark();
    let reply = w.client().cmd("stop");
    assert_eq!(reply["ok"], true, "stop: {reply}");
    assert_eq!(
        reply["summary"]["overrides"],
        json!({"motion": {"threshold": 30}, "zones": {"porch": {"inertia": 7}},
               "face_recognition": {"min_area": 600}}),
        "{reply}"
    );
    w.assert_removed(mark, false);
    let mut expected = config_before;
    if let Some(serde_yaml::Value::Mapping(porch)) = expected
        .get_mut("cameras")
        .and_then(|c| c.get_mut(SOURCE))
        .and_then(|c| c.get_mut("zones"))
        .and_then(|z| z.get_mut("porch"))
    {
        porch.insert("inertia".into(), 7.into());
    }
    assert_eq!(w.layout.nvr_config_yaml(), expected, "[{label}] after stop");

    // replayd re-read config.yml after the apply, when it still held the
    // replay camera: a new session of the same camera is not refused as
    // someone else's.
    let status = w.start_to_ready();
    assert_eq!(status["session"]["state"], "ready", "{status}");
    let reply = w.client().cmd("stop");
    assert_eq!(reply["ok"], true, "stop: {reply}");
    assert_eq!(w.replay_cameras_in_config_yml(), Vec::<String>::new());
}

#[test]
fn tuning_loop_017() {
    tuning_loop(FrigateVersion::V017);
}

#[test]
fn tuning_loop_018() {
    tuning_loop(FrigateVersion::V018);
}
