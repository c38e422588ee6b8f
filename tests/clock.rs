//! Auto-stop runs on the boot-time clock: wall-clock jumps (NTP steps, an
//! operator's `date -s`) neither fire it early nor delay it. The daemon runs
//! under libfaketime, which moves only CLOCK_REALTIME (DONT_FAKE_MONOTONIC
//! leaves the monotonic and boot-time clocks alone).

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[test]
fn wall_clock_jumps_do_not_move_the_auto_stop() {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} missing: tests/setup.sh installs Debian's faketime package"
    );
    let root = TestRoot::builder().max_duration("3s").build();
    let clock_file = root.path().join("faketime");
    fs::write(&clock_file, "+0\n").unwrap();
    let clock_file_str = clock_file.to_string_lossy().into_owned();
    let daemon = Daemon::spawn_with(
        &root,
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", &clock_file_str),
            ("FAKETIME_NO_CACHE", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
        None,
    );
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let base = root.base_time();
    let t = Instant::now();
    let reply = client
        .request(&json!({"cmd":"start","camera":"front","start_time":base,"end_time":base + 4.0}));
    assert_eq!(reply["ok"], true, "{reply}");

    // Ten days forward: a wall-clock deadline would fire now.
    fs::write(&clock_file, "+10d\n").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let status = client.cmd("status");
    assert_eq!(status["session"]["active"], true, "fired early: {status}");
    let shown = status["session"]["auto_stop_at"].as_f64().unwrap();

    // Ten days back: a wall-clock deadline would wait ten more days.
    fs::write(&clock_file, "-10d\n").unwrap();
    let summary = events.wait_for_event(secs(6), |e| e["event"] == "summary");
    let took = t.elapsed();
    assert!(summary.is_some(), "no auto-stop\n{}", daemon.log_report());
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_millis(4500),
        "auto-stop after {took:?} instead of 3 s"
    );
    // The displayed auto-stop time is wall-clock and was taken at accept.
    assert!(shown > base, "{shown}");
}
