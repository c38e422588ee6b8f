//! The harness every integration test uses: a temp NVR tree with real
//! ffmpeg-made recordings ([`TestRoot`]), the real `replayd` binary spawned
//! in it ([`Daemon`]), a control-protocol client ([`Client`]), bounded
//! wait helpers and a fake Frigate API ([`fake_frigate::FakeFrigate`]).
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! let root = TestRoot::new();
//! let daemon = Daemon::spawn(&root);          // waits for READY=1
//! let mut c = Client::connect(root.socket());
//! assert_eq!(c.cmd("ping")["protocol"], 1);
//! ```
//!
//! Set `KEEP_TEST_ROOT=1` to keep the temp dirs (their paths are printed).

// Each test binary uses a different part of the harness.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod daemon;
pub mod docker_layout;
pub mod fake_frigate;
pub mod fixtures;
pub mod frigate_runner;
pub mod http_trace;
pub mod procs;
pub mod root;

pub use client::Client;
pub use daemon::{Daemon, SpawnOptions};
pub use fixtures::{probe, probe_duration, Probe};
pub use procs::{alive, descends_from, proc_stat, strays};
pub use root::{DaemonToml, Export, Fault, ReplayArtifacts, Segment, TestRoot, TestRootBuilder};

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The daemon binary cargo built for this test run.
pub fn replayd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_replayd"))
}

/// The control client binary cargo built for this test run.
pub fn replayctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_replayctl"))
}

/// Polls `cond` every 10 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Seconds, for short timeouts in tests.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- requests and events every session test uses ----

pub fn start_req(camera: &str, start: f64, end: f64) -> Value {
    json!({"cmd": "start", "camera": camera, "start_time": start, "end_time": end})
}

pub fn start(client: &mut Client, camera: &str, t0: f64, t1: f64) -> Value {
    client.request(&start_req(camera, t0, t1))
}

pub fn is_job(event: &Value, status: &str) -> bool {
    event["event"] == "job_state" && event["job"]["status"] == status
}

pub fn is_camera(event: &Value, action: &str) -> bool {
    event["event"] == "camera" && event["action"] == action
}

/// The error code of a failure reply (panics on success).
pub fn error_code(reply: &Value) -> &str {
    assert_eq!(reply["ok"], false, "expected an error, got {reply}");
    reply["error"]["code"].as_str().unwrap_or("")
}

/// Waits for the job's terminal state (success or failed).
pub fn wait_job_end(events: &mut Client, daemon: &Daemon) -> Value {
    events
        .wait_for_event(secs(30), |e| is_job(e, "success") || is_job(e, "failed"))
        .unwrap_or_else(|| panic!("no terminal job state\n{}", daemon.log_report()))
}

/// The children of `pid` (every task's).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}
