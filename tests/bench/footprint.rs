//! Part 4 of the bench, footprint: exec → READY=1 with an empty state, idle
//! RSS, and the wake-ups of an idle daemon (no watchdog) over a while.

use crate::launch::{context_switches, fd_count, status_field, thread_count, Launched};
use crate::stats::secs;
use std::time::Duration;

pub struct Footprint {
    pub ready: Vec<f64>,
    pub rss_kb: u64,
    pub rss_anon_kb: u64,
    pub rss_file_kb: u64,
    /// Proportional set size: shared library pages divided among their users.
    pub pss_kb: u64,
    pub rss_after_idle_kb: u64,
    pub threads: usize,
    pub fds: usize,
    pub idle_secs: u64,
    pub wakeups: u64,
}

pub fn run(starts: usize, idle_secs: u64) -> Footprint {
    // Empty state: no session, no stale replay camera, no recordings.
    let bench = crate::media::bench_root();
    let root = &bench.root;
    let mut ready = Vec::with_capacity(starts);
    // One untimed start first: the binary and its libraries into the page cache.
    drop(Launched::start(root));
    for _ in 0..starts {
        let mut d = Launched::start(root);
        ready.push(secs(d.ready_after));
        d.stop();
    }

    let d = Launched::start(root);
    let pid = d.pid();
    // Let it finish whatever follows READY=1 and block in poll.
    std::thread::sleep(Duration::from_millis(300));
    d.drain_notify();
    let rss_kb = status_field(pid, "VmRSS").unwrap_or(0);
    let rss_anon_kb = status_field(pid, "RssAnon").unwrap_or(0);
    let rss_file_kb = status_field(pid, "RssFile").unwrap_or(0);
    let pss_kb = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let threads = thread_count(pid);
    let fds = fd_count(pid);
    eprintln!("bench: idle daemon {pid}: watching its context switches for {idle_secs} s");
    let before = context_switches(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let after = context_switches(pid);
    let rss_after_idle_kb = status_field(pid, "VmRSS").unwrap_or(0);
    drop(d);
    Footprint {
        ready,
        rss_kb,
        rss_anon_kb,
        rss_file_kb,
        pss_kb,
        rss_after_idle_kb,
        threads,
        fds,
        idle_secs,
        wakeups: after.saturating_sub(before),
    }
}
