//! The service-manager contract (SPEC §5): READY=1 tells the truth, STATUS=
//! follows the session, SIGHUP reloads both configurations without touching
//! the session (and keeps the old ones when the new ones are broken),
//! SIGTERM/SIGINT stop cleanly, WATCHDOG=1 when asked, socket activation,
//! and no wake-ups while idle. The harness plays systemd's NOTIFY_SOCKET.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

// ---- helpers ----

/// Index of the first notification at `from` or later matching `pred`;
/// panics with the log after `timeout`.
fn wait_index(
    daemon: &Daemon,
    from: usize,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> usize {
    if daemon
        .wait_notification_after(from, timeout, &pred)
        .is_none()
    {
        panic!(
            "no notification {what} (after #{from}) within {timeout:?}\n{}",
            daemon.log_report()
        );
    }
    daemon
        .notifications()
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, m)| pred(m))
        .map(|(i, _)| i)
        .unwrap()
}

/// Starts a session of `front` over the first 20 s and waits (as a
/// subscriber) until its job reports success; returns the status then.
fn start_and_wait_ready(root: &TestRoot, c: &mut Client) -> Value {
    let mut sub = Client::subscribe(root.socket());
    let t0 = root.base_time();
    let reply = c.request(&start_req("front", t0, t0 + 20.0));
    assert_eq!(reply["ok"], true, "{reply}");
    let job_id = reply["job_id"].as_str().unwrap().to_string();
    let done = sub.wait_for_event(secs(20), |e| {
        e["event"] == "job_state"
            && e["job"]["id"] == job_id.as_str()
            && e["job"]["status"] != "running"
    });
    let done = done.unwrap_or_else(|| panic!("job {job_id} never ended: {:?}", sub.seen_events()));
    assert_eq!(done["job"]["status"], "success", "{done}");
    let status = c.cmd("status");
    assert_eq!(status["session"]["state"], "ready", "{status}");
    status
}

/// Context switches of every thread of `pid` (voluntary, involuntary).
fn context_switches(pid: u32) -> (u64, u64) {
    let mut total = (0, 0);
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/PID/task");
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {}", task.path().display()))
        };
        total.0 += field("voluntary_ctxt_switches:");
        total.1 += field("nonvoluntary_ctxt_switches:");
    }
    total
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of Unix seconds.
fn utc_text(t: f64) -> String {
    let (y, mo, d, h, mi, s) = common::root::utc(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

const GARAGE: &str = "
  garage:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/garage
          roles:
            - detect
    detect:
      width: 320
      height: 240
      fps: 5
";

// ---- READY / STATUS ----

#[test]
fn ready_comes_once_the_socket_accepts_and_after_boot_cleanup() {
    let root = TestRoot::new();
    // A stale replay camera from an earlier run: boot cleanup must finish
    // before READY=1.
    let stale = root.add_stale_replay_camera("_replay_front");
    let mut daemon = Daemon::launch(&root, SpawnOptions::default());
    let t = Instant::now();
    daemon
        .wait_ready(secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log_report()));
    eprintln!("READY=1 after {:?}", t.elapsed());

    // One attempt, no retry: the socket must accept the moment READY is seen.
    let mut c = Client::try_connect(root.socket())
        .unwrap_or_else(|e| panic!("connect right after READY=1 failed: {e}"));
    let pong = c.cmd("ping");
    assert_eq!(pong["ok"], true, "{pong}");

    assert!(
        stale.remaining_paths().is_empty(),
        "boot cleanup left {:?} at READY",
        stale.remaining_paths()
    );
    assert!(
        stale.remaining_rows(&root).values().all(|&n| n == 0),
        "boot cleanup left rows: {:?}",
        stale.remaining_rows(&root)
    );

    let notes = daemon.notifications();
    assert_eq!(
        notes.iter().filter(|m| *m == "READY=1").count(),
        1,
        "{notes:?}"
    );
    assert!(notes.iter().any(|m| m == "STATUS=idle"), "{notes:?}");
    assert!(
        !notes
            .iter()
            .any(|m| m == "STOPPING=1" || m == "RELOADING=1"),
        "{notes:?}"
    );
}

#[test]
fn status_follows_the_session() {
    // Copy mode: ffmpeg's clip job lasts long enough to be seen preparing
    // (a link-mode start is ready within the same turn of the loop).
    let root = TestRoot::builder().clip_mode("copy").build();
    let daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let from = daemon.notifications().len();

    let status = start_and_wait_ready(&root, &mut c);
    let preparing = wait_index(&daemon, from, secs(5), "STATUS=preparing clip", |m| {
        m.starts_with("STATUS=preparing clip")
    });
    let replaying = wait_index(&daemon, from, secs(5), "STATUS=replaying", |m| {
        m.starts_with("STATUS=replaying")
    });
    assert!(preparing < replaying, "{:?}", daemon.notifications());
    let notes = daemon.notifications();
    let preparing_text = &notes[preparing];
    assert!(
        preparing_text.contains("_replay_front") && preparing_text.contains('%'),
        "{preparing_text}"
    );
    // "replaying X, auto-stop at T" with T the session's auto_stop_at.
    let auto_stop = status["session"]["auto_stop_at"].as_f64().unwrap();
    let replaying_text = &notes[replaying];
    assert!(replaying_text.contains("_replay_front"), "{replaying_text}");
    assert!(
        replaying_text.contains(&utc_text(auto_stop)),
        "{replaying_text} does not name auto_stop_at {auto_stop} ({})",
        utc_text(auto_stop)
    );

    let stop = c.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    wait_index(&daemon, replaying, secs(5), "STATUS=idle after stop", |m| {
        m == "STATUS=idle"
    });
}

// ---- SIGHUP ----

#[test]
fn sighup_reloads_and_keeps_the_session() {
    let mut root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let before = start_and_wait_ready(&root, &mut c);
    let mut sub = Client::subscribe(root.socket());

    // A shorter cap applies to the next session, not to the running one.
    root.update_toml(|t| t.max_duration = Some("1h".into()));
    let from = daemon.notifications().len();
    daemon.sighup();
    let reloading = wait_index(&daemon, from, secs(5), "RELOADING=1", |m| {
        m == "RELOADING=1"
    });
    let ready = wait_index(
        &daemon,
        reloading,
        secs(5),
        "READY=1 after RELOADING=1",
        |m| m == "READY=1",
    );
    // READY=1 comes back with the session's status line.
    wait_index(
        &daemon,
        ready,
        secs(5),
        "STATUS=replaying after reload",
        |m| m.starts_with("STATUS=replaying _replay_front"),
    );
    assert!(
        wait_until(secs(5), || daemon.log().contains("configuration reloaded")),
        "{}",
        daemon.log_report()
    );

    let after = c.cmd("status");
    assert_eq!(
        after["session"], before["session"],
        "session changed by SIGHUP"
    );
    assert_eq!(after["session"]["active"], true, "{after}");
    assert_eq!(
        after["session"]["auto_stop_at"], before["session"]["auto_stop_at"],
        "{after}"
    );
    assert_eq!(after["job"], before["job"], "job changed by SIGHUP");
    assert!(root.camera_file("_replay_front").is_file());
    let input = after["session"]["clip_path"].as_str().unwrap();
    assert!(std::path::Path::new(input).is_file(), "{after}");
    // No camera remove/add churn was published for the reload.
    assert!(
        sub.next_event(Duration::from_millis(300)).is_none(),
        "events after SIGHUP: {:?}",
        sub.seen_events()
    );

    let stop = c.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");

    // The next session gets the reloaded max_duration.
    let t0 = root.base_time();
    let accepted_at = common::root::unix_now();
    let reply = c.request(&start_req("front", t0, t0 + 4.0));
    assert_eq!(reply["ok"], true, "{reply}");
    let status = c.cmd("status");
    let auto_stop = status["session"]["auto_stop_at"].as_f64().unwrap();
    assert!(
        (auto_stop - accepted_at - 3600.0).abs() < 5.0,
        "auto_stop_at {auto_stop} is not 1 h after {accepted_at}"
    );
    assert_eq!(c.cmd("stop")["ok"], true);
    assert!(daemon.is_running());
}

#[test]
fn sighup_picks_up_a_new_nvr_camera() {
    let root = TestRoot::builder().recordings("garage", 3).build();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let t0 = root.base_time();

    let reply = c.request(&start_req("garage", t0, t0 + 6.0));
    assert_eq!(reply["error"]["code"], "not_found", "{reply}");

    root.write_nvr_config(&format!("{}{GARAGE}", common::root::NVR_CONFIG));
    // Not before the reload.
    let reply = c.request(&start_req("garage", t0, t0 + 6.0));
    assert_eq!(reply["error"]["code"], "not_found", "{reply}");

    let from = daemon.notifications().len();
    daemon.sighup();
    let reloading = wait_index(&daemon, from, secs(5), "RELOADING=1", |m| {
        m == "RELOADING=1"
    });
    wait_index(&daemon, reloading, secs(5), "READY=1", |m| m == "READY=1");

    let reply = c.request(&start_req("garage", t0, t0 + 6.0));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["replay_camera"], "_replay_garage", "{reply}");
    let stop = c.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    assert_eq!(stop["summary"]["replay_camera"], "_replay_garage", "{stop}");
    assert!(daemon.is_running());
}

#[test]
fn a_broken_config_at_sighup_keeps_the_old_one() {
    let mut root = TestRoot::builder().max_range("1m").build();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let t0 = root.base_time();
    let two_minutes = start_req("front", t0, t0 + 120.0);

    let reply = c.request(&two_minutes);
    assert_eq!(reply["error"]["code"], "invalid_params", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_range"),
        "{reply}"
    );

    let sighup_and_wait = |daemon: &mut Daemon| {
        let from = daemon.notifications().len();
        daemon.sighup();
        let reloading = wait_index(daemon, from, secs(5), "RELOADING=1", |m| m == "RELOADING=1");
        wait_index(daemon, reloading, secs(5), "READY=1", |m| m == "READY=1");
    };
    let failures = |daemon: &Daemon| daemon.log().matches("reload failed").count();

    // 1. replayd.toml that does not parse (and would lift max_range if it did).
    root.write_raw_toml("[session\nmax_range = \"6h\"\n");
    sighup_and_wait(&mut daemon);
    assert!(
        wait_until(secs(5), || failures(&daemon) == 1),
        "{}",
        daemon.log_report()
    );
    assert!(daemon.is_running());
    let reply = c.request(&two_minutes);
    assert_eq!(
        reply["error"]["code"], "invalid_params",
        "old max_range not kept: {reply}"
    );
    assert_eq!(c.cmd("ping")["ok"], true);

    // 2. A valid replayd.toml with an unknown key is just as broken.
    root.update_toml(|t| {
        t.max_range = Some("6h".into());
        t.extra
            .push(("session".into(), "max_durration".into(), "\"1h\"".into()));
    });
    sighup_and_wait(&mut daemon);
    assert!(
        wait_until(secs(5), || failures(&daemon) == 2),
        "{}",
        daemon.log_report()
    );
    let reply = c.request(&two_minutes);
    assert_eq!(reply["error"]["code"], "invalid_params", "{reply}");

    // 3. A broken NVR config (replayd.toml now fine): cameras are kept.
    root.update_toml(|t| {
        t.extra
            .retain(|(section, _, _)| section == "nvr.mounts" || section == "runtime")
    });
    let good_nvr = std::fs::read_to_string(root.nvr_config_path()).unwrap();
    std::fs::write(root.nvr_config_path(), "cameras: [front\n  garage: {").unwrap();
    sighup_and_wait(&mut daemon);
    assert!(
        wait_until(secs(5), || failures(&daemon) == 3),
        "{}",
        daemon.log_report()
    );
    let log = daemon.log();
    let line = log
        .lines()
        .filter(|l| l.contains("reload failed"))
        .nth(2)
        .unwrap();
    assert!(
        line.contains(&root.nvr_config_path().display().to_string()),
        "reload failure does not name the NVR config: {line}"
    );
    // Still the old max_range (the whole reload was refused), front still known.
    let reply = c.request(&two_minutes);
    assert_eq!(reply["error"]["code"], "invalid_params", "{reply}");

    // 4. Both fixed: the reload goes through and the new max_range applies.
    std::fs::write(root.nvr_config_path(), good_nvr).unwrap();
    sighup_and_wait(&mut daemon);
    assert!(
        wait_until(secs(5), || daemon.log().contains("configuration reloaded")),
        "{}",
        daemon.log_report()
    );
    let reply = c.request(&two_minutes);
    assert_eq!(reply["ok"], true, "new max_range not applied: {reply}");
    let stop = c.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    assert!(daemon.is_running());
}

// ---- SIGTERM / SIGINT ----

fn stops_cleanly_on(signal: nix::sys::signal::Signal) {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    assert_eq!(c.cmd("ping")["ok"], true);
    assert!(root.socket().exists());

    let from = daemon.notifications().len();
    daemon.signal(signal);
    let status = daemon.wait_exit(secs(5));
    assert_eq!(
        status.code(),
        Some(0),
        "{signal}: {status}\n{}",
        daemon.log_report()
    );
    let notes = daemon.notifications();
    assert!(
        notes[from..].iter().any(|m| m == "STOPPING=1"),
        "{signal}: {notes:?}"
    );
    assert!(
        !root.socket().exists(),
        "{signal}: socket {} left behind",
        root.socket().display()
    );
    assert!(c.wait_closed(secs(2)), "{signal}: client not disconnected");
}

#[test]
fn sigterm_stops_with_status_0_and_removes_the_socket() {
    stops_cleanly_on(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigint_stops_with_status_0_and_removes_the_socket() {
    stops_cleanly_on(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn a_second_daemon_does_not_steal_a_live_socket() {
    let root = TestRoot::new();
    let first = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());

    let mut second = Daemon::launch(&root, SpawnOptions::default());
    let status = second.wait_exit(secs(5));
    assert!(
        !status.success(),
        "a second daemon ran beside the first: {status}\n{}",
        second.log_report()
    );
    assert!(!second.has_notification("READY=1"));
    assert!(second.log().contains("in use"), "{}", second.log_report());
    // The first one still owns the socket file and answers on it.
    assert!(root.socket().exists());
    assert_eq!(c.cmd("ping")["ok"], true);
    assert_eq!(Client::connect(root.socket()).cmd("ping")["ok"], true);
    drop(first);
}

#[test]
fn a_socket_left_by_a_killed_daemon_is_replaced() {
    let root = TestRoot::new();
    let mut first = Daemon::spawn(&root);
    first.sigkill();
    first.wait_exit(secs(5));
    assert!(root.socket().exists(), "SIGKILL cannot remove the socket");
    assert!(Client::try_connect(root.socket()).is_err());

    let _second = Daemon::spawn(&root);
    let mut c = Client::try_connect(root.socket()).expect("connect after restart");
    assert_eq!(c.cmd("ping")["ok"], true);
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat[stat.rfind(')').unwrap() + 2..].chars().next();
        state != Some('Z') && state != Some('X')
    })
}

#[test]
fn sigterm_during_a_session_ends_ffmpeg_and_exits_0() {
    // An ffmpeg that ignores SIGTERM and never finishes.
    let root = TestRoot::builder()
        .fake_ffmpeg("trap '' TERM\nexec sleep 30")
        .build();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let t0 = root.base_time();
    assert_eq!(c.request(&start_req("front", t0, t0 + 10.0))["ok"], true);
    let mut kids = Vec::new();
    assert!(
        wait_until(secs(5), || {
            kids = children(daemon.pid());
            !kids.is_empty()
        }),
        "no ffmpeg child appeared"
    );

    let t = Instant::now();
    daemon.sigterm();
    let status = daemon.wait_exit(secs(5));
    eprintln!(
        "SIGTERM with ffmpeg {kids:?} running: exit {status} after {:?}",
        t.elapsed()
    );
    assert_eq!(status.code(), Some(0), "{status}\n{}", daemon.log_report());
    assert!(daemon.has_notification("STOPPING=1"));
    assert!(
        wait_until(secs(2), || kids.iter().all(|&k| !alive(k))),
        "ffmpeg {kids:?} outlived the daemon"
    );
    assert!(!root.socket().exists());
    // The session stays on record for the next start to pick up; no partial
    // clip is left behind.
    let state = std::fs::read_to_string(root.session_file()).expect("session.json kept");
    assert!(state.contains("_replay_front"), "{state}");
    let part = root.part_path("_replay_front");
    assert!(!part.exists(), "{} left behind", part.display());
}

// ---- watchdog ----

#[test]
fn watchdog_pings_at_half_the_interval() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn_with(&root, &[("WATCHDOG_USEC", "200000")], None);
    let count = || {
        daemon
            .notifications()
            .iter()
            .filter(|m| *m == "WATCHDOG=1")
            .count()
    };
    let before = count();
    std::thread::sleep(secs(1));
    let pings = count() - before;
    eprintln!("WATCHDOG_USEC=200000: {pings} WATCHDOG=1 in 1 s");
    // Every 100 ms (half of 200 ms): about 10; at least 5 leaves room for a
    // loaded CI machine, and a 200 ms period would miss the deadline.
    assert!(pings >= 5, "{pings} pings: {:?}", daemon.notifications());
    assert!(pings <= 25, "{pings} pings in 1 s: a busy loop?");
}

#[test]
fn no_watchdog_without_watchdog_usec_or_for_another_pid() {
    let root = TestRoot::new();
    // WATCHDOG_PID names another process: the watchdog is not ours.
    let other = Daemon::spawn_with(
        &root,
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
        None,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !other.has_notification("WATCHDOG=1"),
        "{:?}",
        other.notifications()
    );
    drop(other);

    let plain = Daemon::spawn(&root);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !plain.has_notification("WATCHDOG=1"),
        "{:?}",
        plain.notifications()
    );
}

// ---- socket activation ----

#[test]
fn socket_activation_uses_the_passed_socket() {
    let root = TestRoot::new();
    let passed = root.path().join("activated.sock");
    let listener = UnixListener::bind(&passed).expect("bind the activation socket");
    // The socket unit owns its mode; the daemon leaves it alone.
    std::fs::set_permissions(&passed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut daemon = Daemon::spawn_with(&root, &[], Some(&listener));

    for _ in 0..3 {
        let mut c = Client::connect(&passed);
        let pong = c.cmd("ping");
        assert_eq!(pong["ok"], true, "{pong}");
    }
    assert!(
        !root.socket().exists(),
        "the daemon also bound {}",
        root.socket().display()
    );
    assert!(
        daemon.log().contains("passed by systemd"),
        "{}",
        daemon.log_report()
    );

    let mode = std::fs::metadata(&passed).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "the daemon changed the passed socket's mode");

    daemon.sigterm();
    let status = daemon.wait_exit(secs(5));
    assert_eq!(status.code(), Some(0), "{status}\n{}", daemon.log_report());
    assert!(
        passed.exists(),
        "the daemon removed the socket file systemd owns"
    );
    assert!(!root.socket().exists());
}

// ---- no wake-ups ----

#[test]
fn an_idle_daemon_does_not_wake_up() {
    let root = TestRoot::new();
    let daemon = Daemon::spawn(&root);
    let pid = daemon.pid();
    // Let start-up settle (harness connects, READY).
    std::thread::sleep(Duration::from_millis(200));
    let (v0, n0) = context_switches(pid);
    std::thread::sleep(secs(2));
    let (v1, n1) = context_switches(pid);
    eprintln!(
        "idle 2 s: {} thread(s), voluntary_ctxt_switches {v0} -> {v1}, \
         nonvoluntary {n0} -> {n1}",
        threads(pid)
    );
    assert!(v1 - v0 <= 1, "idle daemon woke up {} times in 2 s", v1 - v0);

    // A ready session has nothing to do until its auto-stop deadline either.
    let mut c = Client::connect(root.socket());
    start_and_wait_ready(&root, &mut c);
    std::thread::sleep(Duration::from_millis(200));
    let (v0, _) = context_switches(pid);
    std::thread::sleep(secs(2));
    let (v1, _) = context_switches(pid);
    eprintln!("ready session 2 s: voluntary_ctxt_switches {v0} -> {v1}");
    assert!(
        v1 - v0 <= 1,
        "daemon with a ready session woke up {} times in 2 s",
        v1 - v0
    );
}
