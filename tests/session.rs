//! The session lifecycle with the real daemon, real ffmpeg and a real
//! Frigate database: start, progress, publish, stop, cleanup, and the ways a
//! job fails.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn full_session_cuts_publishes_and_cleans_up() {
    let root = TestRoot::builder().clip_mode("copy").build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let (t0, t1) = (base + 3.0, base + 13.0);

    // start and status in one write: status is answered before the loop
    // can see ffmpeg finish, so "active at once" is observed deterministically.
    client.send_raw(
        format!(
            "{}\n{}\n",
            json!({"cmd":"start","camera":"front","start_time":t0,"end_time":t1}),
            json!({"cmd":"status"})
        )
        .as_bytes(),
    );
    let started = client.read_response(secs(10)).expect("start reply");
    assert_eq!(started["ok"], true, "{started}");
    assert_eq!(started["replay_camera"], "_replay_front");
    let job_id = started["job_id"].as_str().unwrap().to_string();
    let status = client.read_response(secs(10)).expect("status reply");
    assert_eq!(status["session"]["active"], true);
    assert_eq!(status["session"]["state"], "preparing_clip");
    assert_eq!(status["session"]["clip_path"], Value::Null);
    assert_eq!(status["session"]["source_camera"], "front");
    assert_eq!(status["job"]["id"], job_id.as_str());

    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    assert_eq!(done["job"]["id"], job_id.as_str());
    assert_eq!(done["job"]["results"]["progress_percent"], 100.0);
    let adds: Vec<&Value> = events
        .seen_events()
        .iter()
        .filter(|e| is_camera(e, "add"))
        .collect();
    assert_eq!(adds.len(), 1, "camera add exactly once");
    assert_eq!(adds[0]["camera"], "_replay_front");
    let inputs = &adds[0]["config"]["ffmpeg"]["inputs"];
    let clip = root.clip_path("_replay_front");
    assert_eq!(inputs[0]["path"], clip.to_string_lossy().as_ref());
    // The job went through both steps before success.
    let steps: Vec<&str> = events
        .seen_events()
        .iter()
        .filter_map(|e| e["job"]["results"]["current_step"].as_str())
        .collect();
    assert!(steps.contains(&"preparing_clip") && steps.contains(&"starting_camera"));

    // The published file and the clip.
    let published = fs::read_to_string(root.camera_file("_replay_front")).unwrap();
    assert!(
        published.starts_with("cameras:\n  _replay_front:"),
        "{published}"
    );
    let duration = probe_duration(&clip).expect("probe clip");
    // Stream copy starts at the keyframe before t0: up to one GOP (1 s) early.
    assert!(
        duration >= (t1 - t0) - 0.2 && duration <= (t1 - t0) + 1.1,
        "clip is {duration}s for a {}s range",
        t1 - t0
    );
    println!("clip duration error: {:+.3}s", duration - (t1 - t0));
    let status = client.cmd("status");
    assert_eq!(status["session"]["state"], "ready");
    assert_eq!(
        status["session"]["clip_path"],
        clip.to_string_lossy().as_ref()
    );

    // What the replay "produced", and a neighbour whose names share a prefix.
    let mine = root.add_replay_artifacts("_replay_front");
    let neighbour = root.add_replay_artifacts("_replay_front_door-yard");
    let neighbour_rows = neighbour.remaining_rows(&root);

    let t = Instant::now();
    let stopped = client.cmd("stop");
    let stop_latency = t.elapsed();
    println!("stop latency (ready session): {stop_latency:?}");
    assert_eq!(stopped["ok"], true, "{stopped}");
    let summary = &stopped["summary"];
    assert_eq!(summary["replay_camera"], "_replay_front");
    assert_eq!(summary["events"], 3);
    assert_eq!(summary["events_by_label"], json!({"person": 2, "car": 1}));
    assert_eq!(
        summary["review_segments"],
        json!({"alert": 1, "detection": 1})
    );
    assert_eq!(summary["rows_removed"], mine.total_rows(), "{summary}");
    assert!(summary["files_removed"].as_u64().unwrap() >= mine.files.len() as u64 - 1);

    assert_eq!(mine.remaining_paths(), Vec::<std::path::PathBuf>::new());
    assert!(mine.remaining_rows(&root).values().all(|&n| n == 0));
    assert!(!root.camera_file("_replay_front").exists());
    assert!(!clip.exists());
    assert!(neighbour.remaining_paths().len() == neighbour.files.len() + neighbour.dirs.len());
    assert_eq!(neighbour.remaining_rows(&root), neighbour_rows);

    // Events of the stop, in order: remove, stopped, summary.
    let remove = events.wait_for_event(secs(5), |e| is_camera(e, "remove"));
    assert!(remove.is_some());
    let stopped_job = events.next_event(secs(5)).unwrap();
    assert_eq!(stopped_job["job"]["id"], "stopped");
    assert_eq!(stopped_job["job"]["status"], "cancelled");
    let results = stopped_job["job"]["results"].as_object().unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    let summary_event = events.next_event(secs(5)).unwrap();
    assert_eq!(summary_event["event"], "summary");
    assert_eq!(&summary_event["summary"], summary);

    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], false);
    assert_eq!(status["job"]["id"], "stopped");
    assert_eq!(&status["last_summary"], summary);
    assert!(
        !root.session_file().exists() || {
            let state: Value =
                serde_json::from_str(&fs::read_to_string(root.session_file()).unwrap()).unwrap();
            state["session"].is_null()
        }
    );
}

#[test]
fn second_start_is_refused_and_stop_when_idle_is_not_active() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    assert_eq!(error_code(&client.cmd("stop")), "not_active");
    let base = root.base_time();
    let first = start(&mut client, "front", base, base + 6.0);
    assert_eq!(first["ok"], true, "{first}");
    let second = start(&mut client, "back", base, base + 6.0);
    assert_eq!(error_code(&second), "already_active");
    let again = start(&mut client, "front", base, base + 6.0);
    assert_eq!(error_code(&again), "already_active");
    assert_eq!(client.cmd("stop")["ok"], true);
    assert_eq!(error_code(&client.cmd("stop")), "not_active");
}

#[test]
fn ffmpeg_failure_fails_the_job_with_its_stderr_and_allows_a_new_start() {
    let root = TestRoot::builder()
        .clip_mode("copy")
        .fake_ffmpeg("echo 'concat: Impossible to open segment: boom' >&2\nexit 1\n")
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 6.0);
    assert_eq!(reply["ok"], true, "{reply}");
    let failed = wait_job_end(&mut events, &daemon);
    assert!(is_job(&failed, "failed"), "{failed}");
    let message = failed["job"]["error_message"].as_str().unwrap();
    assert!(
        message.contains("ffmpeg failed (exit status 1)"),
        "{message}"
    );
    assert!(
        message.contains("Impossible to open segment: boom"),
        "{message}"
    );

    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], false);
    assert_eq!(status["job"]["status"], "failed");
    assert_eq!(status["job"]["error_message"], message);
    assert!(!events.seen_events().iter().any(|e| is_camera(e, "add")));
    let replay_dir = root.replay_dir();
    let leftovers: Vec<_> = fs::read_dir(&replay_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
    assert!(!root.camera_file("_replay_front").exists());

    let again = start(&mut client, "front", base, base + 6.0);
    assert_eq!(again["ok"], true, "a new start is allowed: {again}");
    assert!(daemon
        .log()
        .contains("clip job failed for _replay_front (source front)"));
}

#[test]
fn missing_ffmpeg_fails_the_job_clearly() {
    let root = TestRoot::builder()
        .clip_mode("copy")
        .ffmpeg_path("/nonexistent/bin/ffmpeg")
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    let failed = wait_job_end(&mut events, &daemon);
    let message = failed["job"]["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot run ffmpeg (/nonexistent/bin/ffmpeg)"),
        "{failed}"
    );
    assert_eq!(client.cmd("ping")["ok"], true);
}

/// An ffmpeg that reports a little progress, then hangs until signalled.
const HANGING_FFMPEG: &str = "echo out_time_us=1000000\necho progress=continue\nexec sleep 30\n";

#[test]
fn stop_during_preparation_cancels_the_job_and_publishes_nothing() {
    let root = TestRoot::builder()
        .clip_mode("copy")
        .fake_ffmpeg(HANGING_FFMPEG)
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 10.0);
    let job_id = reply["job_id"].as_str().unwrap().to_string();
    // Progress 1 s of 10 s arrived.
    let progress = events.wait_for_event(secs(10), |e| {
        e["event"] == "job_state" && e["job"]["results"]["progress_percent"] == 10.0
    });
    assert!(progress.is_some(), "{}", daemon.log_report());
    let ffmpeg_pid = wait_for_child(daemon.pid());

    let t = Instant::now();
    let stopped = client.cmd("stop");
    println!("stop latency (ffmpeg in flight): {:?}", t.elapsed());
    assert_eq!(stopped["ok"], true, "{stopped}");
    assert!(!std::path::Path::new(&format!("/proc/{ffmpeg_pid}")).exists());

    let cancelled = events
        .wait_for_event(secs(5), |e| is_job(e, "cancelled"))
        .unwrap();
    assert_eq!(
        cancelled["job"]["id"],
        job_id.as_str(),
        "the job's own state first"
    );
    let synthetic = events
        .wait_for_event(secs(5), |e| is_job(e, "cancelled"))
        .unwrap();
    assert_eq!(synthetic["job"]["id"], "stopped");
    assert!(
        !events.seen_events().iter().any(|e| e["event"] == "camera"),
        "no camera event for a camera never published"
    );
    assert_eq!(client.cmd("status")["session"]["active"], false);
}

#[test]
fn ffmpeg_ignoring_sigterm_is_killed_after_kill_grace() {
    let root = TestRoot::builder()
        .clip_mode("copy")
        .fake_ffmpeg(
            "trap '' TERM\necho out_time_us=1000000\necho progress=continue\nexec sleep 30\n",
        )
        .kill_grace("1s")
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    // Its progress line comes after the trap: from then on it ignores SIGTERM.
    let progress = events.wait_for_event(secs(10), |e| {
        e["event"] == "job_state" && e["job"]["results"]["progress_percent"] == 25.0
    });
    assert!(progress.is_some(), "{}", daemon.log_report());
    let ffmpeg_pid = wait_for_child(daemon.pid());
    let t = Instant::now();
    assert_eq!(client.cmd("stop")["ok"], true);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900), "stopped in {took:?}");
    assert!(took < secs(5), "stopped in {took:?}");
    assert!(!std::path::Path::new(&format!("/proc/{ffmpeg_pid}")).exists());
    assert!(daemon.log().contains("ignored SIGTERM"));
}

#[test]
fn ffmpeg_without_progress_is_stopped_by_the_stall_timeout() {
    let root = TestRoot::builder()
        .clip_mode("copy")
        .fake_ffmpeg("exec sleep 30\n")
        .stall_timeout("1s")
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let t = Instant::now();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    let failed = wait_job_end(&mut events, &daemon);
    assert!(t.elapsed() < secs(5));
    let message = failed["job"]["error_message"].as_str().unwrap();
    assert!(
        message.contains("ffmpeg made no progress for 1s"),
        "{message}"
    );
    assert_eq!(client.cmd("status")["session"]["active"], false);
}

#[test]
fn missing_and_empty_segments_are_skipped_with_a_warning() {
    let root = TestRoot::new();
    root.fault_segment(1, Fault::Missing);
    root.fault_segment(2, Fault::Empty);
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 10.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let log = daemon.log();
    for i in [1, 2] {
        let name = root.segments()[i].path.display().to_string();
        assert!(log.contains(&name), "warning names {name}\n{log}");
    }
    // Whatever the mode: the clip, or the playlist of the links.
    let duration = probe_duration(&session_input(&mut client)).unwrap();
    assert!(
        (duration - 6.0).abs() < 1.1,
        "three segments of five left: {duration}"
    );
}

#[test]
fn all_segments_missing_fails_the_job() {
    let root = TestRoot::new();
    for i in 0..3 {
        root.fault_segment(i, Fault::Missing);
    }
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 5.0)["ok"], true);
    let failed = wait_job_end(&mut events, &daemon);
    assert!(is_job(&failed, "failed"), "{failed}");
    assert!(failed["job"]["error_message"]
        .as_str()
        .unwrap()
        .contains("none of the recordings"));
}

#[test]
fn a_truncated_segment_is_dropped_and_the_clip_rebuilt() {
    let root = TestRoot::builder().clip_mode("copy").build();
    root.fault_segment(2, Fault::Truncated);
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 12.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    let log = daemon.log();
    assert!(is_job(&done, "success"), "{done}\n{log}");
    let bad = root.segments()[2].path.display().to_string();
    assert!(
        log.contains("rebuilding without it") && log.contains(&bad),
        "warning names {bad}\n{log}"
    );
    let duration = probe_duration(&root.clip_path("_replay_front")).unwrap();
    assert!(
        (duration - 10.0).abs() < 1.1,
        "12 s minus the bad 2 s: {duration}"
    );
}

#[test]
fn start_from_export_replays_the_export() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let export = root.export().clone();
    let reply = client.request(&json!({"cmd":"start_from_export","export_id":export.id}));
    assert_eq!(reply["ok"], true, "{reply}\n{}", daemon.log_report());
    assert_eq!(reply["replay_camera"], format!("_replay_{}", export.camera));
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let session = &client.cmd("status")["session"];
    assert_eq!(session["start_time"], export.date);
    let end = session["end_time"].as_f64().unwrap();
    assert!(
        (end - export.date - export.duration).abs() < 0.5,
        "{session}"
    );
    let missing = client.request(&json!({"cmd":"start_from_export","export_id":"nope"}));
    assert_eq!(error_code(&missing), "already_active");
    assert_eq!(client.cmd("stop")["ok"], true);
    let missing = client.request(&json!({"cmd":"start_from_export","export_id":"nope"}));
    assert_eq!(error_code(&missing), "not_found");
}

#[test]
fn an_export_longer_than_max_range_is_invalid_params() {
    let root = TestRoot::builder().max_range("3s").build();
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let id = root.export().id.clone();
    let reply = client.request(&json!({"cmd":"start_from_export","export_id":id}));
    assert_eq!(error_code(&reply), "invalid_params");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_range"));
    assert_eq!(client.cmd("status")["session"]["active"], false);
}

#[test]
fn auto_stop_ends_the_session_at_max_duration() {
    let root = TestRoot::builder().max_duration("2s").build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let t = Instant::now();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    let status = client.cmd("status");
    let auto_stop_at = status["session"]["auto_stop_at"].as_f64().unwrap();
    let started_at = status["session"]["started_at"].as_f64().unwrap();
    assert!((auto_stop_at - started_at - 2.0).abs() < 0.01);
    let summary = events.wait_for_event(secs(10), |e| e["event"] == "summary");
    let took = t.elapsed();
    assert!(summary.is_some(), "{}", daemon.log_report());
    assert!(
        took >= Duration::from_millis(1900) && took < secs(4),
        "auto-stop after {took:?}"
    );
    assert_eq!(client.cmd("status")["session"]["active"], false);
    assert!(!root.camera_file("_replay_front").exists());
    assert!(daemon.log().contains("auto-stop"));
}

#[test]
fn no_space_is_refused_before_accepting() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a tmpfs and needs root (CI runs as root)"
    );
    let root = TestRoot::new();
    let clips = root.replay_dir();
    std::fs::create_dir_all(&clips).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&clips)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount tmpfs on {}", clips.display());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(clips.clone());
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 10.0);
    assert_eq!(error_code(&reply), "no_space", "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("free"));
    assert_eq!(client.cmd("status")["session"]["active"], false);
}

/// The pid of the daemon's (only) child, once it exists.
fn wait_for_child(daemon_pid: u32) -> u32 {
    let mut found = None;
    let ok = wait_until(secs(10), || {
        let children = fs::read_to_string(format!("/proc/{daemon_pid}/task/{daemon_pid}/children"))
            .unwrap_or_default();
        found = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok());
        found.is_some()
    });
    assert!(ok, "the daemon started no child");
    found.unwrap()
}

#[test]
fn a_missing_or_locked_database_is_an_internal_error_and_the_daemon_serves_on() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();

    // Another writer holds the write lock past the daemon's busy timeout.
    let locker = root.db();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let t = Instant::now();
    let reply = start(&mut client, "front", base, base + 4.0);
    assert_eq!(error_code(&reply), "internal", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{reply}"
    );
    assert!(t.elapsed() < secs(5), "busy timeout, then a clear error");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    fs::rename(root.db_path(), root.path().join("moved.db")).unwrap();
    let reply = start(&mut client, "front", base, base + 4.0);
    assert_eq!(error_code(&reply), "internal", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&root.db_path().display().to_string()),
        "{message}"
    );
    assert_eq!(client.cmd("status")["session"]["active"], false);
    fs::rename(root.path().join("moved.db"), root.db_path()).unwrap();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
}

#[test]
fn a_segment_with_another_resolution_is_left_out_of_the_clip() {
    let root = TestRoot::new();
    root.fault_segment(2, Fault::Resolution);
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 10.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let bad = root.segments()[2].path.display().to_string();
    let log = daemon.log();
    assert!(
        log.contains(&bad) && log.contains("640x480"),
        "warning names {bad}\n{log}"
    );
    let clip = session_input(&mut client);
    let p = probe(&clip).unwrap();
    assert_eq!((p.width, p.height), (320, 240));
    assert!(
        (p.duration - 8.0).abs() < 1.1,
        "10 s minus the 2 s segment: {}",
        p.duration
    );
    // The clip decodes without a single error.
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn another_camera_prefix_names_every_replay_camera() {
    let root = TestRoot::builder()
        .toml(|t| {
            t.extra
                .push(("session".into(), "camera_prefix".into(), "\"rp-\"".into()))
        })
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 6.0);
    assert_eq!(reply["replay_camera"], "rp-front", "{reply}");
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    assert!(root.camera_file("rp-front").is_file());
    let input = session_input(&mut client);
    assert!(
        input.starts_with(root.replay_dir().join("rp-front")),
        "{}",
        input.display()
    );
    assert!(input.is_file());
    let ledger = std::fs::read_to_string(root.ledger_path()).unwrap();
    assert!(ledger.contains("\"rp-front\""), "{ledger}");
    let stop = client.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    assert!(!root.camera_file("rp-front").exists());
    assert!(!root.replay_dir().join("rp-front").exists());
    // A source named like a replay camera of this prefix is refused.
    let refused = start(&mut client, "rp-front", base, base + 6.0);
    assert_eq!(error_code(&refused), "invalid_params", "{refused}");
}

/// What the ready session plays: its clip (copy mode) or its playlist (link mode).
fn session_input(client: &mut Client) -> std::path::PathBuf {
    let status = client.cmd("status");
    status["session"]["clip_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no clip_path: {status}"))
        .into()
}
