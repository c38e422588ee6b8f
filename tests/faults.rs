//! Faults injected into a running daemon (issue 3): each one gets a clear
//! error to the client and in the log, and the daemon keeps serving (a ping
//! is answered after each).

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---- helpers ----

/// The daemon still answers, promptly.
fn assert_serves(daemon: &Daemon) {
    let mut c = daemon.client();
    let t = Instant::now();
    let pong = c.cmd("ping");
    assert_eq!(pong["ok"], true, "{pong}\n{}", daemon.log_report());
    assert!(t.elapsed() < secs(2), "ping took {:?}", t.elapsed());
}

/// What is in the replay dir (a replay camera's folder …).
fn replay_dir_files(root: &TestRoot) -> Vec<PathBuf> {
    fs::read_dir(root.replay_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| !p.ends_with("filler"))
                .collect()
        })
        .unwrap_or_default()
}

fn require_root(what: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{what} needs root (CI runs the suite as root)"
    );
}

/// The real ffmpeg, for wrapper scripts (PATH lookup done here, once).
fn real_ffmpeg() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v ffmpeg"])
        .output()
        .expect("run sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "ffmpeg is not on PATH");
    PathBuf::from(path)
}

// ---- ffmpeg ----

#[test]
fn ffmpeg_killed_by_a_signal_fails_the_job() {
    let root = TestRoot::builder()
        .fake_ffmpeg("echo 'about to die' >&2\nkill -9 $$\n")
        .build();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let failed = wait_job_end(&mut events, &daemon);
    assert!(is_job(&failed, "failed"), "{failed}");
    let message = failed["job"]["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("killed by signal 9"), "{message}");
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], false);
    assert_eq!(status["job"]["error_message"], message);
    assert!(daemon.log().contains("killed by signal 9"));
    assert!(
        replay_dir_files(&root).is_empty(),
        "{:?}",
        replay_dir_files(&root)
    );
    assert_serves(&daemon);
}

/// Unmounts on drop, so a failing test leaves no mount behind.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Unmount {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount a tmpfs on {}", dir.display());
    Unmount(dir.to_path_buf())
}

#[test]
fn the_disk_filling_up_during_preparation_fails_the_job_cleanly() {
    require_root("mounting a tmpfs");
    let mut root = TestRoot::new();
    let clips = root.replay_dir();
    fs::create_dir_all(&clips).unwrap();
    let filler = clips.join("filler");
    // Fills the file system once the daemon's checks passed, then cuts.
    let script = format!(
        "dd if=/dev/zero of='{}' bs=1M 2>/dev/null\nexec '{}' \"$@\"\n",
        filler.display(),
        real_ffmpeg().display()
    );
    let ffmpeg = root.write_script("ffmpeg-fill", &script);
    root.update_toml(|t| t.ffmpeg = Some(ffmpeg));
    // Room for the space check (segments + 5% + 16 MiB), not much more.
    // Declared after the root: unmounted before the root is removed.
    let _mount = mount_tmpfs(&clips, "48m");

    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, root.end_time());
    assert_eq!(reply["ok"], true, "{reply}");
    let failed = wait_job_end(&mut events, &daemon);
    assert!(is_job(&failed, "failed"), "{failed}");
    let message = failed["job"]["error_message"].as_str().unwrap_or_default();
    println!("disk full: {message}");
    assert!(message.contains("No space left on device"), "{message}");
    // The status reply comes after the failure was fully handled.
    assert_eq!(client.cmd("status")["session"]["active"], false);
    let log = daemon.log();
    assert!(log.contains("clip job failed for _replay_front"), "{log}");
    assert!(log.contains("No space left on device"), "{log}");
    assert!(filler.metadata().unwrap().len() > 0, "the filler ran");
    assert!(
        replay_dir_files(&root).is_empty(),
        "partial clip left: {:?}",
        replay_dir_files(&root)
    );
    assert!(!root.camera_file("_replay_front").exists());
    assert_serves(&daemon);
}

#[test]
fn a_resolution_change_gives_a_clean_clip_or_a_clear_failure() {
    let root = TestRoot::new();
    root.fault_segment(2, Fault::Resolution);
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 10.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    if is_job(&done, "success") {
        // The clip, or in link mode the playlist of the links.
        let status = client.cmd("status");
        let clip = PathBuf::from(status["session"]["clip_path"].as_str().unwrap());
        let out = Command::new(real_ffmpeg())
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
            .arg(&clip)
            .args(["-f", "null", "-"])
            .stdin(Stdio::null())
            .output()
            .expect("run ffmpeg");
        let errors = String::from_utf8_lossy(&out.stderr).into_owned();
        println!(
            "resolution change: job succeeded; clip decodes with {} bytes of errors",
            errors.len()
        );
        assert!(out.status.success(), "decoding the clip failed: {errors}");
        assert_eq!(errors, "", "the published clip does not decode cleanly");
    } else {
        let message = done["job"]["error_message"].as_str().unwrap_or_default();
        println!("resolution change: job failed: {message}");
        assert!(is_job(&done, "failed"), "{done}");
        assert_eq!(client.cmd("status")["session"]["active"], false);
        let bad = root.segments()[2].path.display().to_string();
        assert!(
            message.contains(&bad) || message.contains("resolution") || message.contains("640x480"),
            "the message says what is wrong: {message}"
        );
        assert!(replay_dir_files(&root).is_empty());
        assert!(daemon.log().contains("clip job failed"));
    }
    assert_serves(&daemon);
}

// ---- database ----

#[test]
fn stop_cleans_what_it_can_when_tables_are_missing() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let artifacts = root.add_replay_artifacts("_replay_front");
    root.db()
        .execute_batch("DROP TABLE timeline; DROP TABLE \"trigger\";")
        .unwrap();

    let stopped = client.cmd("stop");
    assert_eq!(stopped["ok"], true, "{stopped}\n{}", daemon.log_report());
    let expected_rows =
        artifacts.total_rows() - artifacts.rows["timeline"] - artifacts.rows["trigger"];
    assert_eq!(
        stopped["summary"]["rows_removed"], expected_rows,
        "{stopped}"
    );
    assert_eq!(artifacts.remaining_paths(), Vec::<PathBuf>::new());
    let conn = root.db();
    for table in [
        "event",
        "recordings",
        "reviewsegment",
        "previews",
        "regions",
    ] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM \"{table}\" WHERE camera = '_replay_front'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "rows left in {table}");
    }
    assert_eq!(root.count_review_status(&artifacts.review_ids), 0);
    let log = daemon.log();
    for table in ["timeline", "trigger"] {
        assert!(
            log.lines()
                .any(|l| l.contains("no table") && l.contains(table)),
            "the log names the missing table {table}\n{log}"
        );
    }
    assert_serves(&daemon);
}

// ---- NVR config ----

#[test]
fn nvr_config_invalid_or_changed_under_the_daemon() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    let base = root.base_time();

    // Invalid YAML: the reload fails, the old configuration stays.
    root.write_nvr_config("cameras:\n  front: [unclosed\n    bad: : :\n");
    let n = daemon.notifications().len();
    daemon.sighup();
    let ready = daemon.wait_notification_after(n, secs(5), |m| m == "READY=1");
    assert!(ready.is_some(), "{}", daemon.log_report());
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("reload failed"))
        .unwrap_or_else(|| panic!("no reload error in the log\n{log}"));
    assert!(line.contains("config.yml"), "names the file: {line}");
    println!("invalid NVR config: {line}");
    let reply = start(&mut client, "front", base, base + 4.0);
    assert_eq!(reply["ok"], true, "the old config still serves: {reply}");
    assert_eq!(client.cmd("stop")["ok"], true);
    assert_eq!(
        error_code(&start(&mut client, "back", base, base + 4.0)),
        "no_recordings",
        "back is still known"
    );

    // Camera `back` removed: after the reload it is unknown.
    let nvr = common::root::NVR_CONFIG;
    let cut = nvr.find("\n  back:\n").expect("back in the NVR config");
    root.write_nvr_config(&nvr[..cut + 1]);
    let n = daemon.notifications().len();
    daemon.sighup();
    let ready = daemon.wait_notification_after(n, secs(5), |m| m == "READY=1");
    assert!(ready.is_some(), "{}", daemon.log_report());
    let reply = start(&mut client, "back", base, base + 4.0);
    assert_eq!(error_code(&reply), "not_found", "{reply}");
    assert!(daemon.log().contains("configuration reloaded (2 cameras)"));
    assert_eq!(start(&mut client, "front", base, base + 4.0)["ok"], true);
    assert_serves(&daemon);
}

// ---- runtime dir ----

#[test]
fn session_json_that_cannot_be_written_is_logged_and_the_daemon_serves() {
    // Root ignores permission bits, so a chmod would not stop the daemon:
    // a directory where the temp file goes makes its creation fail.
    let root = TestRoot::builder()
        .fake_ffmpeg("echo out_time_us=1000000\necho progress=continue\nexec sleep 30\n")
        .build();
    let daemon = Daemon::spawn(&root);
    let blocker = root.run_dir().join("session.json.tmp");
    fs::create_dir(&blocker).unwrap();
    let mut client = daemon.client();
    let base = root.base_time();
    let reply = start(&mut client, "front", base, base + 6.0);
    assert_eq!(reply["ok"], true, "the start still answers: {reply}");
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("session.json"))
        .unwrap_or_else(|| panic!("no error about session.json\n{log}"));
    println!("unwritable state file: {line}");
    assert_eq!(client.cmd("status")["session"]["active"], true);
    assert_serves(&daemon);

    // Writable again: the next transition persists.
    fs::remove_dir(&blocker).unwrap();
    assert_eq!(client.cmd("stop")["ok"], true);
    let state: Value =
        serde_json::from_str(&fs::read_to_string(root.session_file()).unwrap()).unwrap();
    assert_eq!(state["session"], Value::Null);
    assert_serves(&daemon);
}

#[test]
fn a_runtime_dir_that_cannot_be_created_exits_71_naming_it() {
    let mut root = TestRoot::new();
    let blocker = root.path().join("not-a-dir");
    fs::write(&blocker, b"a regular file").unwrap();
    let run = blocker.join("run");
    let socket = run.join("control.sock");
    root.update_toml(|t| {
        t.runtime_dir = Some(run.clone());
        t.socket = Some(socket);
    });
    let mut daemon = Daemon::launch(&root, SpawnOptions::default());
    let status = daemon.wait_exit(secs(5));
    assert_eq!(status.code(), Some(71), "{}", daemon.log_report());
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains(&run.display().to_string()))
        .unwrap_or_else(|| panic!("the message names {}\n{log}", run.display()));
    println!("runtime dir: {line}");
    assert!(!daemon.has_notification("READY=1"));
}

// ---- many clients ----

/// One raw connection (one fd on our side, unlike `Client`).
struct Raw {
    reader: BufReader<UnixStream>,
}

impl Raw {
    fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect: {e}"));
        Raw {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("send");
    }

    /// One line within `timeout`, `None` on timeout or EOF.
    fn line(&mut self, timeout: Duration) -> Option<Value> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => {
                Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            }
            _ => None,
        }
    }
}

#[test]
fn five_hundred_connections_some_stuck_some_garbage_are_all_handled() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let baseline = daemon.fd_count();
    let rss_before = daemon.rss_kb();
    let socket = root.socket();

    let t = Instant::now();
    let mut conns: Vec<(usize, Raw)> = (0..500).map(|i| (i % 5, Raw::connect(&socket))).collect();
    // 0: a partial line, then silence; 1: garbage; 2..=4: ping.
    for (kind, c) in &mut conns {
        match kind {
            0 => c.send(b"{\"cmd\":\"pi"),
            1 => c.send(b"this is not json\n"),
            _ => c.send(b"{\"cmd\":\"ping\"}\n"),
        }
    }
    let mut slowest = Duration::ZERO;
    let (mut pongs, mut refused) = (0, 0);
    for (i, (kind, c)) in conns.iter_mut().enumerate() {
        if *kind == 0 {
            continue;
        }
        let left = secs(10).saturating_sub(t.elapsed());
        let reply = c
            .line(left.max(Duration::from_millis(1)))
            .unwrap_or_else(|| panic!("connection {i} got no answer\n{}", daemon.log_report()));
        slowest = slowest.max(t.elapsed());
        if *kind == 1 {
            assert_eq!(error_code(&reply), "invalid_request", "{reply}");
            refused += 1;
        } else {
            assert_eq!(reply["ok"], true, "{reply}");
            assert_eq!(reply["protocol"], 2);
            pongs += 1;
        }
    }
    assert_eq!((pongs, refused), (300, 100));
    assert!(slowest < secs(5), "the last answer came after {slowest:?}");
    // The stuck ones got nothing and stay connected; a newcomer is served.
    for (_, c) in conns.iter_mut().filter(|(k, _)| *k == 0).take(10) {
        assert!(c.line(Duration::from_millis(20)).is_none());
    }
    assert_serves(&daemon);
    let during = daemon.fd_count();
    let rss_during = daemon.rss_kb();
    assert!(during >= baseline + 500, "{during} fds, {baseline} before");

    drop(conns);
    let after = daemon.wait_fds_back_to(baseline);
    let rss_after = daemon.rss_kb();
    println!(
        "500 connections: answered within {slowest:?}; fds {baseline} -> {during} -> {after}; \
         RSS {rss_before} -> {rss_during} -> {rss_after} KiB"
    );
    assert_serves(&daemon);
}

// ---- the replay folder under attack (issue 10, finding 1) ----

#[test]
fn a_symlink_planted_at_the_partial_clip_is_never_written_through() {
    let root = TestRoot::builder().clip_mode("copy").build();
    let victim = root.path().join("precious.db");
    fs::write(&victim, b"the NVR's database").unwrap();
    let folder = root.replay_dir().join("_replay_front");
    fs::create_dir_all(&folder).unwrap();
    std::os::unix::fs::symlink(&victim, root.part_path("_replay_front")).unwrap();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    assert!(
        fs::read(&victim).unwrap() == b"the NVR's database",
        "ffmpeg wrote through the planted symlink"
    );
    let clip = root.clip_path("_replay_front");
    assert!(clip.symlink_metadata().unwrap().file_type().is_file());
}

#[test]
fn a_replay_dir_that_is_a_symlink_or_someone_elses_is_refused() {
    require_root("chown");
    for swap in ["symlink", "owner"] {
        let root = TestRoot::new();
        let outside = root.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        match swap {
            "symlink" => std::os::unix::fs::symlink(&outside, root.replay_dir()).unwrap(),
            _ => {
                fs::create_dir_all(root.replay_dir().join("_replay_front")).unwrap();
                std::os::unix::fs::chown(
                    root.replay_dir().join("_replay_front"),
                    Some(65534),
                    None,
                )
                .unwrap();
            }
        }
        let daemon = Daemon::spawn(&root);
        let mut events = Client::subscribe(root.socket());
        let mut client = daemon.client();
        let base = root.base_time();
        let reply = start(&mut client, "front", base, base + 6.0);
        if reply["ok"] == true {
            let done = wait_job_end(&mut events, &daemon);
            assert!(is_job(&done, "failed"), "{swap}: {done}");
            let message = done["job"]["error_message"].as_str().unwrap_or_default();
            assert!(
                message.contains("symlink") || message.contains("belongs to uid"),
                "{swap}: {message}"
            );
        }
        let written: Vec<_> = fs::read_dir(&outside).unwrap().flatten().collect();
        assert!(written.is_empty(), "{swap}: written outside: {written:?}");
        assert_serves(&daemon);
    }
}

#[test]
fn rows_a_locked_database_kept_at_stop_are_deleted_once_it_is_free() {
    // Issue 10 finding 7: a stop under a locked database left its rows for
    // good (rows_removed: 0, no retry).
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 6.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let artifacts = root.add_replay_artifacts("_replay_front");
    let locker = root.db();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let stop = client.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    assert_eq!(stop["summary"]["rows_removed"], 0, "{stop}");
    let ledger = fs::read_to_string(root.ledger_path()).unwrap();
    assert!(ledger.contains("rows_owed"), "{ledger}");
    assert!(ledger.contains("_replay_front"), "{ledger}");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    assert!(
        wait_until(secs(10), || artifacts
            .remaining_rows(&root)
            .values()
            .all(|&n| n == 0)),
        "rows left: {:?}\n{}",
        artifacts.remaining_rows(&root),
        daemon.log_report()
    );
    assert!(wait_until(secs(2), || !fs::read_to_string(
        root.ledger_path()
    )
    .unwrap()
    .contains("_replay_front")));
    assert_serves(&daemon);
}

#[test]
fn a_recording_row_that_points_outside_the_media_root_is_not_read() {
    // Issue 10 (low): segment paths outside the media root were read.
    let root = TestRoot::new();
    let outside = root.path().join("elsewhere/secret.mp4");
    fs::create_dir_all(outside.parent().unwrap()).unwrap();
    fs::copy(&root.segments()[1].path, &outside).unwrap();
    root.db()
        .execute(
            "UPDATE recordings SET path = ?1 WHERE path = ?2",
            rusqlite::params![
                outside.to_string_lossy(),
                root.segments()[1].path.to_string_lossy()
            ],
        )
        .unwrap();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut client, "front", base, base + 20.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let log = daemon.log();
    assert!(
        log.contains("outside the NVR's media root") && log.contains("secret.mp4"),
        "{log}"
    );
}
