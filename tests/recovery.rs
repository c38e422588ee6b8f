//! Crash recovery and boot cleanup (SPEC §2, issue 3) with the real daemon:
//! it is SIGKILLed at chosen moments and started again on the same root, and
//! what it finds at start-up (state files from another boot, garbage, stale
//! replay cameras, leftover ffmpeg) must be dealt with before READY=1.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---- helpers ----

/// `run/session.json`, parsed.
fn state_file(root: &TestRoot) -> Value {
    let path = root.session_file();
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

/// The session in `run/session.json` (`null` when idle or missing).
fn state_session(root: &TestRoot) -> Value {
    if !root.session_file().exists() {
        return Value::Null;
    }
    state_file(root)["session"].clone()
}

/// Waits until session.json records a running ffmpeg; returns (pid, start_ticks).
fn wait_recorded_ffmpeg(root: &TestRoot, daemon: &Daemon, other_than: Option<u64>) -> (u64, u64) {
    let mut found = None;
    let ok = wait_until(secs(5), || {
        let rec = &state_session(root)["ffmpeg"];
        found = rec["pid"].as_u64().zip(rec["start_ticks"].as_u64());
        found.is_some_and(|(pid, _)| Some(pid) != other_than)
    });
    assert!(
        ok,
        "session.json never recorded an ffmpeg: {}\n{}",
        state_session(root),
        daemon.log_report()
    );
    found.unwrap()
}

/// Kills the daemon with SIGKILL and waits until it is gone.
fn kill9(daemon: &mut Daemon) {
    daemon.sigkill();
    daemon.wait_exit(secs(5));
}

/// Everything of `camera` the daemon may have made: published file, clip,
/// partial clip, concat list, and media entries named after it.
fn leftovers_of(root: &TestRoot, camera: &str) -> Vec<PathBuf> {
    let mut out = root.media_entries_for(camera);
    for p in [
        root.camera_file(camera),
        root.clip_path(camera),
        root.part_path(camera),
        root.run_dir().join(format!("{camera}.ffconcat")),
    ] {
        if p.symlink_metadata().is_ok() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

fn boottime() -> f64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).unwrap();
    ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9
}

/// An ffmpeg that reports a little progress, then hangs until signalled.
const HANGING_FFMPEG: &str = "echo out_time_us=1000000\necho progress=continue\nexec sleep 30\n";

// ---- session.json ----

#[test]
fn session_json_records_boot_id_deadline_and_the_running_ffmpeg() {
    let root = TestRoot::builder().fake_ffmpeg(HANGING_FFMPEG).build();
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 6.0);
    assert_eq!(reply["ok"], true, "{reply}");
    let job_id = reply["job_id"].as_str().unwrap().to_string();
    let now_boot = boottime();

    let (pid, start_ticks) = wait_recorded_ffmpeg(&root, &daemon, None);
    let state = state_file(&root);
    assert_eq!(state["schema"], 1, "{state}");
    assert_eq!(state["boot_id"], boot_id().as_str(), "{state}");
    let session = &state["session"];
    assert_eq!(session["replay_camera"], "_replay_front");
    assert_eq!(session["source_camera"], "front");
    assert_eq!(session["job_id"], job_id.as_str());
    assert_eq!(session["state"], "preparing_clip");
    assert_eq!(session["interruptions"], 0);
    // The deadline is on the boot-time clock, 12 h (the default) after acceptance.
    let deadline = session["deadline"].as_f64().expect("deadline");
    assert!(
        (deadline - (now_boot + 12.0 * 3600.0)).abs() < 5.0,
        "deadline {deadline} vs boot time {now_boot}"
    );
    let status = client.cmd("status");
    assert_eq!(
        session["auto_stop_at"], status["session"]["auto_stop_at"],
        "{session}"
    );

    // The recorded ffmpeg is the daemon's child, and its start time is
    // field 22 of /proc/PID/stat.
    assert_eq!(
        children(daemon.pid()),
        vec![pid as u32],
        "the daemon's children"
    );
    let (_, ppid, ticks) = proc_stat(pid).expect("ffmpeg runs");
    assert_eq!(ppid, u64::from(daemon.pid()));
    assert_eq!(
        ticks, start_ticks,
        "start_ticks is /proc/{pid}/stat field 22"
    );

    assert_eq!(client.cmd("stop")["ok"], true);
    let state = state_file(&root);
    assert_eq!(state["session"], Value::Null, "{state}");
    assert_eq!(state["boot_id"], boot_id().as_str());
}

// ---- kill -9 and resume ----

#[test]
fn a_ready_session_survives_a_kill_and_is_resumed() {
    ready_session_survives_a_kill_and_is_resumed("copy");
}

#[test]
fn a_ready_link_mode_session_survives_a_kill_and_is_resumed() {
    ready_session_survives_a_kill_and_is_resumed("link");
}

fn ready_session_survives_a_kill_and_is_resumed(mode: &str) {
    let root = TestRoot::builder().clip_mode(mode).build();
    let mut daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base + 2.0, base + 10.0);
    assert_eq!(reply["ok"], true, "{reply}");
    let job_id = reply["job_id"].as_str().unwrap().to_string();
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let before = client.cmd("status")["session"].clone();
    assert_eq!(before["state"], "ready");
    assert_eq!(before["clip_mode"], mode, "{before}");
    let input = PathBuf::from(before["clip_path"].as_str().unwrap());
    let published = fs::read(root.camera_file("_replay_front")).unwrap();
    let deadline = state_session(&root)["deadline"].as_f64().unwrap();
    drop((events, client));

    kill9(&mut daemon);
    let mut daemon = Daemon::spawn(&root);
    assert_eq!(strays(&root, daemon.pid()), vec![], "processes left behind");
    let mut client = daemon.client();
    let status = client.cmd("status");
    let after = &status["session"];
    assert_eq!(after["active"], true, "{status}\n{}", daemon.log_report());
    assert_eq!(after["state"], "ready");
    assert_eq!(after["auto_stop_at"], before["auto_stop_at"]);
    assert_eq!(after["started_at"], before["started_at"]);
    assert_eq!(after["clip_path"], before["clip_path"]);
    let session = state_session(&root);
    assert_eq!(session["job_id"], job_id.as_str());
    assert_eq!(session["deadline"].as_f64(), Some(deadline));
    assert_eq!(
        fs::read(root.camera_file("_replay_front")).unwrap(),
        published,
        "the camera file is re-published identical"
    );
    assert!(input.is_file());
    assert_eq!(after["clip_mode"], mode);
    assert_eq!(after["linked_bytes"], before["linked_bytes"]);
    assert!(daemon.log().contains("resumed session of _replay_front"));
    // SPEC: `job` in status is the last job; for a resumed session that is
    // its successful clip job.
    let job = status["job"].clone();
    assert_eq!(job["id"], job_id.as_str(), "status.job after resume: {job}");
    assert_eq!(job["status"], "success", "status.job after resume: {job}");

    assert_eq!(client.cmd("stop")["ok"], true);
    assert_eq!(leftovers_of(&root, "_replay_front"), Vec::<PathBuf>::new());
    drop(client);
    daemon.sigterm();
    assert!(daemon.wait_exit(secs(5)).success());
}

#[test]
fn a_kill_while_preparing_restarts_once_and_a_second_fails_the_job() {
    let root = TestRoot::builder().fake_ffmpeg(HANGING_FFMPEG).build();
    let mut daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 6.0);
    assert_eq!(reply["ok"], true, "{reply}");
    let job_id = reply["job_id"].as_str().unwrap().to_string();
    let (pid1, ticks1) = wait_recorded_ffmpeg(&root, &daemon, None);
    let deadline = state_session(&root)["deadline"].as_f64().unwrap();
    drop(client);

    // First interruption: the preparation starts over.
    kill9(&mut daemon);
    let mut daemon = Daemon::spawn(&root);
    assert!(
        !alive(pid1, ticks1),
        "ffmpeg [{pid1}] of the dead daemon still runs"
    );
    assert_eq!(strays(&root, daemon.pid()), vec![], "processes left behind");
    let session = state_session(&root);
    assert_eq!(session["job_id"], job_id.as_str(), "{session}");
    assert_eq!(session["interruptions"], 1, "{session}");
    assert_eq!(session["state"], "preparing_clip", "{session}");
    assert_eq!(session["deadline"].as_f64(), Some(deadline), "{session}");
    let mut client = daemon.client();
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], true, "{status}");
    assert_eq!(status["session"]["state"], "preparing_clip");
    assert_eq!(status["job"]["id"], job_id.as_str(), "{status}");
    assert_eq!(status["job"]["status"], "running", "{status}");
    let (pid2, ticks2) = wait_recorded_ffmpeg(&root, &daemon, Some(pid1));
    assert_eq!(children(daemon.pid()), vec![pid2 as u32]);
    assert!(daemon.log().contains("interrupted while preparing"));
    drop(client);

    // Second interruption: the job fails and everything goes.
    kill9(&mut daemon);
    let daemon = Daemon::spawn(&root);
    assert!(
        !alive(pid2, ticks2),
        "ffmpeg [{pid2}] of the dead daemon still runs"
    );
    assert_eq!(strays(&root, daemon.pid()), vec![], "processes left behind");
    let mut client = daemon.client();
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(status["job"]["id"], job_id.as_str(), "{status}");
    assert_eq!(status["job"]["status"], "failed", "{status}");
    let message = status["job"]["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("interrupted twice"), "{status}");
    assert_eq!(state_session(&root), Value::Null);
    assert_eq!(leftovers_of(&root, "_replay_front"), Vec::<PathBuf>::new());
    assert!(children(daemon.pid()).is_empty());
    assert!(daemon.log().contains("interrupted twice"));
    // A new start works.
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
}

#[test]
fn an_ffmpeg_that_outlives_its_daemon_is_found_and_killed() {
    // `setpriv --pdeathsig clear` undoes the parent-death signal, so this
    // ffmpeg (same pid, same start time) survives the daemon's SIGKILL.
    let root = TestRoot::builder()
        .fake_ffmpeg(
            "echo out_time_us=1000000\necho progress=continue\nexec setpriv --pdeathsig clear sleep 30\n",
        )
        .build();
    let mut daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let (pid, ticks) = wait_recorded_ffmpeg(&root, &daemon, None);
    // Wait until the exec happened (the start time does not change with it).
    assert!(wait_until(secs(5), || fs::read_to_string(format!(
        "/proc/{pid}/comm"
    ))
    .is_ok_and(|c| c.trim() == "sleep")));
    drop(client);
    kill9(&mut daemon);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        alive(pid, ticks),
        "precondition: the fake ffmpeg survives its daemon"
    );

    let daemon = Daemon::spawn(&root);
    // Ended before READY=1.
    assert!(!alive(pid, ticks), "leftover ffmpeg [{pid}] still runs");
    let log = daemon.log();
    assert!(
        log.contains(&format!(
            "ending ffmpeg [{pid}] left by the previous daemon"
        )),
        "{log}"
    );
    assert_eq!(strays(&root, daemon.pid()), vec![]);
    let session = state_session(&root);
    assert_eq!(session["interruptions"], 1, "{session}");
    let mut client = daemon.client();
    assert_eq!(client.cmd("stop")["ok"], true);
    assert!(children(daemon.pid()).is_empty());
}

#[test]
fn a_kill_during_stop_is_finished_at_restart() {
    let root = TestRoot::builder()
        .fake_ffmpeg(
            "trap '' TERM\necho out_time_us=1000000\necho progress=continue\nexec sleep 30\n",
        )
        .kill_grace("3s")
        .build();
    let mut daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let (pid, ticks) = wait_recorded_ffmpeg(&root, &daemon, None);
    // What the NVR made of the replay camera meanwhile.
    let artifacts = root.add_replay_artifacts("_replay_front");

    // The stop waits for kill_grace: the daemon dies in the middle of it.
    client.send_raw(b"{\"cmd\":\"stop\"}\n");
    std::thread::sleep(Duration::from_millis(500));
    let session = state_session(&root);
    assert_eq!(
        session["stopping"], true,
        "the stop is persisted: {session}"
    );
    assert!(client.read_response(Duration::ZERO).is_none());
    kill9(&mut daemon);
    drop(client);

    let daemon = Daemon::spawn(&root);
    assert!(!alive(pid, ticks), "ffmpeg [{pid}] still runs");
    assert_eq!(strays(&root, daemon.pid()), vec![]);
    let mut client = daemon.client();
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(state_session(&root), Value::Null);
    assert_eq!(artifacts.remaining_paths(), Vec::<PathBuf>::new());
    let rows = artifacts.remaining_rows(&root);
    assert!(rows.values().all(|&n| n == 0), "rows left: {rows:?}");
    assert_eq!(leftovers_of(&root, "_replay_front"), Vec::<PathBuf>::new());
    assert!(children(daemon.pid()).is_empty());
    assert!(daemon.log().contains("died while stopping"));
    assert_eq!(client.cmd("ping")["ok"], true);
}

// ---- state files that do not fit ----

/// Starts a session, lets it become ready with NVR artifacts, kills the daemon.
fn ready_session_then_kill(root: &TestRoot) -> ReplayArtifacts {
    let mut daemon = Daemon::spawn(root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let artifacts = root.add_replay_artifacts("_replay_front");
    assert!(root.camera_file("_replay_front").is_file());
    kill9(&mut daemon);
    artifacts
}

fn assert_replay_front_cleaned(root: &TestRoot, artifacts: &ReplayArtifacts, daemon: &Daemon) {
    assert_eq!(
        artifacts.remaining_paths(),
        Vec::<PathBuf>::new(),
        "{}",
        daemon.log_report()
    );
    let rows = artifacts.remaining_rows(root);
    assert!(rows.values().all(|&n| n == 0), "rows left: {rows:?}");
    assert_eq!(leftovers_of(root, "_replay_front"), Vec::<PathBuf>::new());
}

#[test]
fn a_state_file_from_another_boot_leads_to_boot_cleanup() {
    let root = TestRoot::new();
    let artifacts = ready_session_then_kill(&root);
    let mut state = state_file(&root);
    assert_eq!(state["session"]["state"], "ready");
    state["boot_id"] = json!("00000000-0000-4000-8000-000000000000");
    fs::write(root.session_file(), state.to_string()).unwrap();

    let daemon = Daemon::spawn(&root);
    assert_replay_front_cleaned(&root, &artifacts, &daemon);
    let mut client = daemon.client();
    assert_eq!(client.cmd("status")["session"]["active"], false);
    assert_eq!(state_session(&root), Value::Null);
    assert_eq!(state_file(&root)["boot_id"], boot_id().as_str());
    let log = daemon.log();
    assert!(log.contains("previous boot"), "{log}");
    assert!(log.contains("boot cleanup: removed stale replay camera _replay_front"));
}

#[test]
fn a_corrupt_state_file_is_kept_aside_and_boot_cleanup_runs() {
    let root = TestRoot::new();
    let artifacts = ready_session_then_kill(&root);
    let garbage = b"{\"schema\":1,\"boot_id\": \x00\xff garbage";
    fs::write(root.session_file(), garbage).unwrap();

    let daemon = Daemon::spawn(&root);
    let aside = root.run_dir().join("session.json.corrupt");
    assert_eq!(
        fs::read(&aside).expect("session.json.corrupt"),
        garbage,
        "kept as it was"
    );
    assert_replay_front_cleaned(&root, &artifacts, &daemon);
    let mut client = daemon.client();
    assert_eq!(client.cmd("status")["session"]["active"], false);
    assert_eq!(state_session(&root), Value::Null);
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("session.json") && l.contains("corrupt")),
        "{log}"
    );
}

// ---- boot cleanup ----

/// A directory outside the media root, removed on drop.
struct Outside(PathBuf);

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

const KEEP_CAMERA: &str = "ffmpeg:\n  inputs:\n    - path: rtsp://127.0.0.1:8554/keep\n      roles:\n        - detect\ndetect:\n  width: 320\n  height: 240\n";

#[test]
fn boot_cleanup_removes_stale_replay_cameras_and_nothing_else() {
    let root = TestRoot::builder()
        .camera("_replay_keep", KEEP_CAMERA)
        .build();
    let media = root.media();
    let old = root.add_stale_replay_camera("_replay_old");
    let door = root.add_stale_replay_camera("_replay_front-door");
    let keep = root.add_replay_artifacts("_replay_keep");
    let keep_rows = keep.remaining_rows(&root);
    // Prefixed, not the NVR config's, not in the ledger: someone else's
    // (Frigate 0.18's own Debug Replay names its camera `_replay_<camera>`).
    let foreign = root.add_replay_artifacts("_replay_back");
    let foreign_rows = foreign.remaining_rows(&root);
    fs::create_dir_all(root.run_dir().join("cameras")).unwrap();
    fs::write(
        root.camera_file("_replay_old"),
        "cameras:\n  _replay_old: {}\n",
    )
    .unwrap();

    // A planted symlink to a directory outside the media root.
    let outside = Outside(std::env::temp_dir().join(format!(
        "replayd-outside-{}-{}",
        std::process::id(),
        root.path().file_name().unwrap().to_string_lossy()
    )));
    fs::create_dir_all(outside.0.join("2023-11-14/22")).unwrap();
    for f in ["precious.mp4", "2023-11-14/22/13.20.mp4"] {
        fs::write(outside.0.join(f), b"not the daemon's").unwrap();
    }
    let outside_files = files_under(&outside.0);
    std::os::unix::fs::symlink(&outside.0, media.join("recordings/_replay_evil")).unwrap();
    std::os::unix::fs::symlink(&outside.0, media.join("clips/thumbs/_replay_evil")).unwrap();

    // Names without the prefix.
    let unprefixed = [
        media.join("recordings/replay_old/2023-11-14/22/13.20.mp4"),
        media.join("recordings/_replayold/2023-11-14/22/13.20.mp4"),
        media.join("clips/replay_old-1700000000.0-abc.jpg"),
        media.join("clips/front-1700000000.0-abc.jpg"),
        media.join("clips/thumbs/front/1700000000.0-abc.webp"),
        media.join("clips/review/thumb-front-1700000000.0-abc.webp"),
        media.join("clips/replay/front.mp4"),
    ];
    for f in &unprefixed {
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, b"keep me").unwrap();
    }
    let front_segments: Vec<PathBuf> = root.segments().iter().map(|s| s.path.clone()).collect();
    let front_rows = root.count_rows("front");

    let daemon = Daemon::spawn(&root);
    // Right after READY=1: cleanup came before it.
    for a in [&old, &door] {
        assert_eq!(
            a.remaining_paths(),
            Vec::<PathBuf>::new(),
            "{}\n{}",
            a.camera,
            daemon.log_report()
        );
        let rows = a.remaining_rows(&root);
        assert!(rows.values().all(|&n| n == 0), "{}: {rows:?}", a.camera);
    }
    assert!(!root.camera_file("_replay_old").exists());
    assert_eq!(
        keep.remaining_paths().len(),
        keep.files.len() + keep.dirs.len(),
        "a camera the NVR config defines keeps its files"
    );
    assert_eq!(keep.remaining_rows(&root), keep_rows);
    assert_eq!(
        foreign.remaining_paths().len(),
        foreign.files.len() + foreign.dirs.len(),
        "a prefixed camera the ledger does not name is never touched"
    );
    assert_eq!(foreign.remaining_rows(&root), foreign_rows);
    assert_eq!(files_under(&outside.0), outside_files, "outside files");
    for f in unprefixed.iter().chain(&front_segments) {
        assert!(f.is_file(), "{} was removed", f.display());
    }
    assert_eq!(root.count_rows("front"), front_rows);
    let log = daemon.log();
    for name in ["_replay_old", "_replay_front-door"] {
        assert!(
            log.contains(&format!(
                "boot cleanup: removed stale replay camera {name} "
            )),
            "{log}"
        );
    }
    assert!(!log.contains("removed stale replay camera _replay_keep"));
    let mut client = daemon.client();
    assert_eq!(client.cmd("ping")["ok"], true);
}

// ---- auto-stop ----

#[test]
fn auto_stop_keeps_its_deadline_across_a_restart() {
    let root = TestRoot::builder().max_duration("4s").build();
    let mut daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();
    let t = Instant::now();
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    let auto_stop_at = client.cmd("status")["session"]["auto_stop_at"].clone();
    std::thread::sleep(Duration::from_millis(1000));
    drop(client);
    kill9(&mut daemon);

    let daemon = Daemon::spawn(&root);
    let restarted = t.elapsed();
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], true, "{status}");
    assert_eq!(status["session"]["auto_stop_at"], auto_stop_at);
    let summary = events.wait_for_event(secs(8), |e| e["event"] == "summary");
    let took = t.elapsed();
    assert!(summary.is_some(), "{}", daemon.log_report());
    println!("auto-stop {took:?} after start (restart at {restarted:?})");
    assert!(
        took >= Duration::from_millis(3000) && took <= Duration::from_millis(5000),
        "auto-stop {took:?} after start, 4 s expected (restart at {restarted:?})"
    );
    assert_eq!(client.cmd("status")["session"]["active"], false);
    assert_eq!(leftovers_of(&root, "_replay_front"), Vec::<PathBuf>::new());
}

#[test]
fn boot_cleanup_of_a_stale_camera_spares_a_resumed_session_named_like_it() {
    // Issue 10 finding 9: cleaning a stale `_replay_lot` spared only the NVR's
    // own camera names, so the live `_replay_lot-9` session's snapshots and
    // review thumbnails (`_replay_lot-9-<time>…`, which `_replay_lot-<digit>…`
    // also matches) went with it.
    const LOT_9: &str = "ffmpeg:\n  inputs:\n    - path: rtsp://127.0.0.1:8554/lot9\n      roles:\n        - detect\ndetect:\n  width: 320\n  height: 240\n";
    let root = TestRoot::builder()
        .camera("lot-9", LOT_9)
        .recordings("lot-9", 3)
        .build();
    let mut daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let segments = root.segments_of("lot-9");
    let (t0, t1) = (segments[0].start, segments[segments.len() - 1].end);
    assert_eq!(start(&mut client, "lot-9", t0, t1)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    // What the NVR made of the live camera, and a stale camera the ledger
    // names (left by an earlier replayd).
    let live = root.add_replay_artifacts("_replay_lot-9");
    let stale = root.add_stale_replay_camera("_replay_lot");
    kill9(&mut daemon);
    drop(client);

    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let status = client.cmd("status");
    assert_eq!(
        status["session"]["replay_camera"], "_replay_lot-9",
        "{status}"
    );
    assert_eq!(status["session"]["state"], "ready", "{status}");
    assert_eq!(stale.remaining_paths(), Vec::<PathBuf>::new());
    // The live session's snapshots, thumbnails and rows are all still there.
    let gone: Vec<&PathBuf> = live.files.iter().filter(|f| !f.exists()).collect();
    assert!(gone.is_empty(), "the live session lost {gone:?}");
    assert_eq!(live.remaining_rows(&root), live.rows);
}
