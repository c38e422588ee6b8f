//! The harness every integration test uses: a temp NVR tree with real
//! ffmpeg-made recordings ([`TestRoot`]), the real `replayd` binary spawned
//! in it ([`Daemon`]), a control-protocol client ([`Client`]) and bounded
//! wait helpers.
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
pub mod fixtures;
pub mod root;

pub use client::Client;
pub use daemon::{Daemon, SpawnOptions};
pub use fixtures::{probe, probe_duration, Probe};
pub use root::{DaemonToml, Export, Fault, ReplayArtifacts, Segment, TestRoot, TestRootBuilder};

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
