//! The tuning loop end to end (SPEC §2 "speed", "overrides", "update",
//! "apply", §7): the real replayd and real ffmpeg, with the file publisher
//! and with the fake Frigate API of `tests/common/fake_frigate.rs`. The
//! protocol is spoken over the socket directly.

mod common;

use common::fake_frigate::{FakeFrigate, FrigateVersion};
use common::root::toml_str;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

const SOURCE: &str = "front";
const REPLAY: &str = "_replay_front";

fn start_with(root: &TestRoot, extra: Value) -> Value {
    let base = root.base_time();
    let mut request = start_req(SOURCE, base + 1.0, base + 9.0);
    for (key, value) in extra.as_object().unwrap() {
        request[key] = value.clone();
    }
    request
}

/// Start → job success → ready.
fn start_ready(root: &TestRoot, daemon: &Daemon, extra: Value) -> Client {
    let mut events = Client::subscribe(root.socket());
    let reply = daemon.client().request(&start_with(root, extra));
    assert_eq!(reply["ok"], true, "start: {reply}\n{}", daemon.log_report());
    let end = wait_job_end(&mut events, daemon);
    assert!(is_job(&end, "success"), "{end}\n{}", daemon.log_report());
    events
}

fn camera_file(root: &TestRoot) -> Value {
    let text = fs::read_to_string(root.camera_file(REPLAY)).expect("camera file");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("camera file is YAML");
    serde_json::to_value(&yaml["cameras"][REPLAY]).unwrap()
}

fn update(daemon: &Daemon, overrides: Value, reset: &[&str]) -> Value {
    let mut request = json!({"cmd": "update", "reset": reset});
    if !overrides.is_null() {
        request["overrides"] = overrides;
    }
    daemon.client().request(&request)
}

/// No `camera` event arrives within a short while.
fn assert_no_camera_event(events: &mut Client) {
    let event = events.wait_for_event(Duration::from_millis(400), |e| e["event"] == "camera");
    assert!(event.is_none(), "unexpected event {event:?}");
}

// ---- the file publisher ----

#[test]
fn speed_4_reads_at_readrate_4() {
    let root = TestRoot::builder().segments(6).build();
    let daemon = Daemon::spawn(&root);
    let events = start_ready(&root, &daemon, json!({"speed": 4}));
    let add = events
        .seen_events()
        .iter()
        .find(|e| is_camera(e, "add"))
        .cloned()
        .expect("camera add");
    let args = "-readrate 4 -stream_loop -1 -fflags +genpts";
    assert_eq!(add["config"]["ffmpeg"]["inputs"][0]["input_args"], args);
    assert_eq!(
        camera_file(&root)["ffmpeg"]["inputs"][0]["input_args"],
        args
    );
    let status = daemon.client().cmd("status");
    assert_eq!(status["session"]["speed"], 4.0, "{status}");
    assert_eq!(daemon.client().cmd("stop")["ok"], true);
}

#[test]
fn update_changes_the_camera_file_and_event_only() {
    let root = TestRoot::builder().segments(6).build();
    let daemon = Daemon::spawn(&root);
    let mut events = start_ready(
        &root,
        &daemon,
        json!({"overrides": {"motion": {"contour_area": 12}}}),
    );
    let before = camera_file(&root);
    assert_eq!(before["motion"]["contour_area"], 12);
    assert_eq!(before["motion"]["threshold"], 25);
    // What the camera plays: the playlist in link mode, the clip in copy.
    let status = daemon.client().cmd("status");
    let clip = std::path::PathBuf::from(status["session"]["clip_path"].as_str().unwrap());
    let clip_meta = fs::metadata(&clip).unwrap();
    let seen = events.seen_events().len();

    let reply = update(
        &daemon,
        json!({"motion": {"threshold": 40}, "zones": {"porch": null}}),
        &[],
    );
    assert_eq!(reply["ok"], true, "{reply}\n{}", daemon.log_report());
    assert_eq!(
        reply["overrides"],
        json!({"motion": {"contour_area": 12, "threshold": 40}, "zones": {"porch": null}})
    );
    assert_eq!(reply["changed"], json!(["zones", "motion"]));
    let event = events
        .wait_for_event(secs(5), |e| is_camera(e, "update"))
        .expect("camera update event");
    assert_eq!(event["camera"], REPLAY);
    assert_eq!(event["sections"], json!(["zones", "motion"]));
    assert_eq!(event["config"]["motion"]["threshold"], 40);
    let after = camera_file(&root);
    assert_eq!(after, event["config"]);
    assert_eq!(after["motion"]["threshold"], 40);
    assert_eq!(after["motion"]["contour_area"], 12);
    assert!(after["zones"].get("porch").is_none() && after["zones"].get("driveway").is_some());
    // Nothing else: every other section as before, the clip untouched, one event.
    for (section, value) in before.as_object().unwrap() {
        if section != "motion" && section != "zones" {
            assert_eq!(&after[section], value, "{section}");
        }
    }
    let clip_after = fs::metadata(&clip).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (clip_meta.ino(), clip_meta.mtime_nsec()),
        (clip_after.ino(), clip_after.mtime_nsec())
    );
    assert_no_camera_event(&mut events);
    let new_events: Vec<&Value> = events.seen_events()[seen..].iter().collect();
    assert_eq!(new_events.len(), 1, "{new_events:?}");
    let status = daemon.client().cmd("status");
    assert_eq!(status["session"]["state"], "ready");
    assert_eq!(
        status["session"]["overrides"], reply["overrides"],
        "{status}"
    );

    // Cumulative, and reset brings the source's value back.
    let reply = update(
        &daemon,
        json!({"zones": {"driveway": {"inertia": 6}}}),
        &["motion.threshold"],
    );
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(
        reply["overrides"],
        json!({"motion": {"contour_area": 12}, "zones": {"porch": null, "driveway": {"inertia": 6}}})
    );
    let after = camera_file(&root);
    assert_eq!(after["motion"]["threshold"], 25);
    assert_eq!(after["zones"]["driveway"]["inertia"], 6);
    // "*" drops every override: the source's settings again.
    let reply = update(&daemon, Value::Null, &["*"]);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["overrides"], json!({}));
    let after = camera_file(&root);
    assert_eq!(after["motion"]["contour_area"], 10);
    assert!(after["zones"].get("porch").is_some());

    let stopped = daemon.client().cmd("stop");
    assert_eq!(stopped["summary"]["overrides"], Value::Null, "{stopped}");
}

#[test]
fn invalid_update_changes_nothing() {
    let root = TestRoot::builder().segments(6).build();
    let daemon = Daemon::spawn(&root);
    let mut events = start_ready(&root, &daemon, json!({}));
    let file = fs::read(root.camera_file(REPLAY)).unwrap();
    for (overrides, field) in [
        (
            json!({"motion": {"threshold": "high"}}),
            "overrides.motion.threshold",
        ),
        (
            json!({"zones": {"driveway": {"inertia": 0}}}),
            "overrides.zones.driveway.inertia",
        ),
        (
            json!({"zones": {"driveway": {"objects": ["bicycle"]}}}),
            "overrides.zones.driveway.objects",
        ),
        (
            json!({"zones": {"street": {"inertia": 2}}}),
            "overrides.zones.street.coordinates",
        ),
        (json!({"record": {"enabled": true}}), "overrides.record"),
    ] {
        let reply = update(&daemon, overrides.clone(), &[]);
        assert_eq!(error_code(&reply), "invalid_params", "{overrides}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{overrides}: {message}");
        assert_eq!(
            fs::read(root.camera_file(REPLAY)).unwrap(),
            file,
            "{overrides}"
        );
    }
    let reply = update(&daemon, Value::Null, &["motion.threshold"]);
    assert_eq!(error_code(&reply), "invalid_params", "{reply}");
    assert_no_camera_event(&mut events);
    let status = daemon.client().cmd("status");
    assert_eq!(status["session"]["overrides"], Value::Null, "{status}");
    assert_eq!(fs::read(root.camera_file(REPLAY)).unwrap(), file);
    daemon.client().cmd("stop");
}

#[test]
fn apply_with_the_file_publisher_gives_the_yaml() {
    let root = TestRoot::builder().segments(6).build();
    let daemon = Daemon::spawn(&root);
    let _events = start_ready(
        &root,
        &daemon,
        json!({"overrides": {"motion": {"threshold": 40}, "zones": {"driveway": {"inertia": 5}}}}),
    );
    let nvr_config = fs::read(root.nvr_config_path()).unwrap();
    let reply = daemon
        .client()
        .request(&json!({"cmd": "apply", "sections": ["motion"]}));
    assert_eq!(error_code(&reply), "unsupported", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("cameras:\n  front:\n    motion:\n      threshold: 40\n"),
        "{message}"
    );
    assert!(!message.contains("inertia"), "{message}");
    let reply = daemon.client().request(&json!({"cmd": "apply"}));
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("inertia: 5"), "{message}");
    assert_eq!(fs::read(root.nvr_config_path()).unwrap(), nvr_config);
    daemon.client().cmd("stop");
}

#[test]
fn a_start_with_bad_overrides_is_refused_before_anything_is_written() {
    let root = TestRoot::builder().segments(6).build();
    let daemon = Daemon::spawn(&root);
    for (extra, field) in [
        (
            json!({"overrides": {"motion": {"threshold": 1000}}}),
            "overrides.motion.threshold",
        ),
        (
            json!({"overrides": {"zones": {"driveway": {"objects": ["bicycle"]}}}}),
            "overrides.zones.driveway.objects",
        ),
        (
            json!({"overrides": {"birdseye": {"enabled": true}}}),
            "overrides.birdseye",
        ),
        (json!({"speed": 20}), "speed"),
    ] {
        let reply = daemon.client().request(&start_with(&root, extra.clone()));
        assert_eq!(error_code(&reply), "invalid_params", "{extra}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{extra}: {message}");
        assert!(!root.camera_file(REPLAY).exists());
        assert!(!root.replay_dir().join(REPLAY).exists());
        let status = daemon.client().cmd("status");
        assert_eq!(status["session"]["active"], false, "{status}");
    }
}

// ---- the Frigate publisher ----

struct World {
    daemon: Daemon,
    fake: FakeFrigate,
    root: TestRoot,
}

fn frigate_world(version: FrigateVersion) -> World {
    let fake = FakeFrigate::start(version, &["front", "front_door-yard", "back"]);
    let url = fake.url();
    let root = TestRoot::builder()
        .segments(6)
        .toml(move |t| {
            t.extra
                .push(("publish".into(), "to".into(), toml_str("frigate")));
            t.extra
                .push(("publish.frigate".into(), "url".into(), toml_str(&url)));
        })
        .build();
    let daemon = Daemon::spawn(&root);
    World { daemon, fake, root }
}

fn topics_since(fake: &FakeFrigate, mark: usize) -> Vec<String> {
    fake.announcements().into_iter().skip(mark).collect()
}

#[test]
fn frigate_update_announces_the_section() {
    for version in [FrigateVersion::V017, FrigateVersion::V018] {
        let w = frigate_world(version);
        let mut events = start_ready(&w.root, &w.daemon, json!({}));
        let mark = w.fake.announcements().len();
        let requests = w.fake.requests().len();
        let reply = update(
            &w.daemon,
            json!({"motion": {"threshold": 40}, "zones": {"driveway": {"inertia": 6}}}),
            &[],
        );
        assert_eq!(
            reply["ok"],
            true,
            "{version:?}: {reply}\n{}",
            w.daemon.log_report()
        );
        assert_eq!(
            topics_since(&w.fake, mark),
            [
                format!("config/cameras/{REPLAY}/zones"),
                format!("config/cameras/{REPLAY}/motion")
            ],
            "{version:?}"
        );
        let running = w.fake.running_camera(REPLAY).unwrap();
        assert_eq!(running["motion"]["threshold"], 40, "{version:?}");
        assert_eq!(running["zones"]["driveway"]["inertia"], 6);
        // The first request carried both sections.
        let sets: Vec<Value> = w.fake.requests()[requests..]
            .iter()
            .filter(|r| r.method == "PUT")
            .map(|r| r.json())
            .collect();
        assert_eq!(sets.len(), 2, "{sets:?}");
        let first = &sets[0]["config_data"]["cameras"][REPLAY];
        assert!(
            first.get("motion").is_some() && first.get("zones").is_some(),
            "{first}"
        );
        assert!(events
            .wait_for_event(secs(5), |e| is_camera(e, "update"))
            .is_some());
        assert_eq!(camera_file(&w.root)["motion"]["threshold"], 40);

        // Refused by Frigate: nothing changes here either.
        let file = fs::read(w.root.camera_file(REPLAY)).unwrap();
        w.fake.inject_on(
            "PUT",
            "/api/config/set",
            common::fake_frigate::Fault::BadRequest("Error saving config: nope".into()),
        );
        let reply = update(&w.daemon, json!({"motion": {"threshold": 41}}), &[]);
        assert_eq!(error_code(&reply), "nvr_refused", "{reply}");
        assert!(reply["error"]["message"].as_str().unwrap().contains("nope"));
        assert_eq!(fs::read(w.root.camera_file(REPLAY)).unwrap(), file);
        assert_no_camera_event(&mut events);
        let status = w.daemon.client().cmd("status");
        assert_eq!(status["session"]["overrides"]["motion"]["threshold"], 40);
        w.daemon.client().cmd("stop");
    }
}

#[test]
fn frigate_017_updates_a_section_without_topic_by_remove_and_add() {
    let w = frigate_world(FrigateVersion::V017);
    let _events = start_ready(&w.root, &w.daemon, json!({}));
    let mark = w.fake.announcements().len();
    let reply = update(
        &w.daemon,
        json!({"face_recognition": {"min_area": 500}}),
        &[],
    );
    assert_eq!(reply["ok"], true, "{reply}\n{}", w.daemon.log_report());
    assert_eq!(reply["changed"], json!(["face_recognition"]));
    assert_eq!(
        topics_since(&w.fake, mark),
        [
            format!("config/cameras/{REPLAY}/remove"),
            format!("config/cameras/{REPLAY}/add")
        ]
    );
    let running = w.fake.running_camera(REPLAY).unwrap();
    assert_eq!(running["face_recognition"]["min_area"], 500);
    w.daemon.client().cmd("stop");
}

#[test]
fn frigate_apply_changes_only_the_source_cameras_keys() {
    for version in [FrigateVersion::V017, FrigateVersion::V018] {
        let w = frigate_world(version);
        let _events = start_ready(
            &w.root,
            &w.daemon,
            json!({"overrides": {"motion": {"threshold": 40, "improve_contrast": false}, "face_recognition": {"min_area": 500}}}),
        );
        let before: Vec<(String, Value)> = ["front", "back", "front_door-yard"]
            .iter()
            .map(|c| (c.to_string(), w.fake.file_camera(c).unwrap()))
            .collect();
        let mark = w.fake.announcements().len();
        let reply = w
            .daemon
            .client()
            .request(&json!({"cmd": "apply", "sections": ["motion", "face_recognition"]}));
        assert_eq!(
            reply["ok"],
            true,
            "{version:?}: {reply}\n{}",
            w.daemon.log_report()
        );
        assert_eq!(
            reply["applied"]["motion"],
            json!({"threshold": {"before": 25, "after": 40}, "improve_contrast": {"before": true, "after": false}})
        );
        assert_eq!(
            reply["applied"]["face_recognition"],
            json!({"min_area": {"before": 750, "after": 500}})
        );
        let (restart, topics) = match version {
            FrigateVersion::V017 => (
                json!(["face_recognition"]),
                vec!["config/cameras/front/motion"],
            ),
            FrigateVersion::V018 => (
                json!([]),
                vec![
                    "config/cameras/front/motion",
                    "config/cameras/front/face_recognition",
                ],
            ),
        };
        assert_eq!(reply["restart_needed"], restart, "{version:?}");
        assert_eq!(topics_since(&w.fake, mark), topics, "{version:?}");
        for (name, was) in before {
            let now = w.fake.file_camera(&name).unwrap();
            if name != "front" {
                assert_eq!(now, was, "{version:?}: {name} changed");
                continue;
            }
            let mut expected = was.clone();
            expected["motion"] = json!({"threshold": 40, "improve_contrast": false});
            expected["face_recognition"] = json!({"min_area": 500});
            assert_eq!(now, expected, "{version:?}");
        }
        w.daemon.client().cmd("stop");
    }
}

// ---- the NVR config re-read mid-session ----

/// Frigate writes the replay camera into its config.yml, and replayd
/// re-reads that file after an apply (or a SIGHUP): the replay camera is
/// then "a camera the NVR config defines". Its stop must still clean its
/// media files (found in a walk-through of docs/tuning.md: the stop logged
/// "refusing to clean _replay_front: it is to be spared" and left them).
#[test]
fn a_replay_camera_in_the_re_read_nvr_config_is_still_cleaned_at_stop() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    start_ready(&root, &daemon, json!({}));
    let artifacts = root.add_replay_artifacts(REPLAY);
    assert!(!artifacts.remaining_paths().is_empty());
    let mut nvr = common::root::NVR_CONFIG.to_string();
    nvr.push_str(
        "  _replay_front:\n    ffmpeg:\n      inputs:\n        - path: /media/frigate/replayd/_replay_front/clip.mp4\n          roles: [detect]\n",
    );
    root.write_nvr_config(&nvr);
    let n = daemon.notifications().len();
    daemon.sighup();
    let ready = daemon.wait_notification_after(n, secs(5), |m| m == "READY=1");
    assert!(ready.is_some(), "{}", daemon.log_report());
    let stopped = daemon.client().cmd("stop");
    assert_eq!(stopped["ok"], true, "{stopped}");
    assert_eq!(
        artifacts.remaining_paths(),
        Vec::<std::path::PathBuf>::new(),
        "{}",
        daemon.log_report()
    );
    assert!(
        !daemon.log().contains("to be spared"),
        "{}",
        daemon.log_report()
    );
}

/// Frigate's API cannot store an integer-like key (a zone named "1"): that
/// is the frigate publisher's rule only (SPEC §4). Found in review: the
/// file publisher cut the whole clip and then failed the publish with it.
#[test]
fn a_zone_named_like_a_number_is_published_by_the_file_publisher() {
    let root = TestRoot::builder()
        .camera(
            "side",
            "ffmpeg:\n  inputs:\n    - path: rtsp://127.0.0.1:8554/side\n      roles: [detect]\ndetect:\n  width: 320\n  height: 240\nzones:\n  \"1\":\n    coordinates: 0.1,0.1,0.9,0.1,0.9,0.9,0.1,0.9\n",
        )
        .recordings("side", 4)
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let base = root.base_time();
    let reply = daemon
        .client()
        .request(&start_req("side", base, base + 6.0));
    assert_eq!(reply["ok"], true, "{reply}\n{}", daemon.log_report());
    let end = wait_job_end(&mut events, &daemon);
    assert!(is_job(&end, "success"), "{end}\n{}", daemon.log_report());
    let text = fs::read_to_string(root.camera_file("_replay_side")).unwrap();
    assert!(text.contains("'1':") || text.contains("\"1\":"), "{text}");
    // A live update of it goes out too.
    let reply = daemon.client().request(&json!({
        "cmd": "update", "overrides": {"zones": {"1": {"inertia": 4}}}
    }));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(daemon.client().cmd("stop")["ok"], true);
}
