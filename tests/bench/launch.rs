//! A daemon launch timed to the datagram: the harness's `Daemon` polls for
//! READY=1 every 10 ms, too coarse for start-up times of a few ms, so this
//! one blocks in `recv` on its own NOTIFY_SOCKET and stamps the moment
//! READY=1 arrives. Also: what /proc says about a process.

use crate::common::daemon::SCRUBBED_ENV;
use crate::common::{replayd_bin, TestRoot};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a launch may take before the bench gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Launched {
    child: Option<Child>,
    notify: UnixDatagram,
    notify_path: PathBuf,
    /// exec (spawn) → READY=1 received.
    pub ready_after: Duration,
}

impl Launched {
    /// Spawns replayd on `root` (no watchdog) and waits for READY=1.
    pub fn start(root: &TestRoot) -> Launched {
        let notify_path = root
            .path()
            .join(format!("bench-notify-{}.sock", std::process::id()));
        let _ = fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).expect("bind notify socket");
        notify
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("notify timeout");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.log_path())
            .expect("open daemon log");
        let mut cmd = Command::new(replayd_bin());
        cmd.arg("--config").arg(root.toml_path());
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        cmd.env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("dup log")))
            .stderr(Stdio::from(log));
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn replayd");
        let mut buf = [0u8; 4096];
        let ready_after = loop {
            match notify.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.lines().any(|l| l == "READY=1") {
                        break started.elapsed();
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("notify socket: {e}"),
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "replayd exited before READY=1 ({status}); log: {}",
                    root.log_path().display()
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("replayd sent no READY=1 within {READY_TIMEOUT:?}");
            }
        };
        notify
            .set_nonblocking(true)
            .expect("notify socket non-blocking");
        Launched {
            child: Some(child),
            notify,
            notify_path,
            ready_after,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Reads queued notifications so the daemon's sends never block.
    pub fn drain_notify(&self) {
        let mut buf = [0u8; 4096];
        for _ in 0..1000 {
            if self.notify.recv(&mut buf).is_err() {
                break;
            }
        }
    }

    /// SIGTERM, wait (SIGKILL after 10 s), reap.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        if child.try_wait().ok().flatten().is_none() {
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + EXIT_TIMEOUT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                self.drain_notify();
                std::thread::sleep(Duration::from_millis(2));
            }
            if child.try_wait().ok().flatten().is_none() {
                eprintln!("bench: replayd {pid} ignored SIGTERM; SIGKILL");
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_file(&self.notify_path);
    }
}

/// A `Key:   123 kB` field of /proc/PID/status, as a number.
pub fn status_field(pid: u32, key: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Voluntary plus involuntary context switches of every thread of `pid`
/// (each wake-up from poll is one voluntary switch).
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let Ok(text) = fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in text.lines() {
            for key in ["voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"] {
                if let Some(v) = line.strip_prefix(key) {
                    total += v.trim().parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    total
}

pub fn thread_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

pub fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The first child of `pid` (the daemon runs at most one), if any.
pub fn first_child(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
