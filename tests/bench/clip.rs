//! Part 1 of the bench, clip preparation: start → job success through
//! replayd, against the same ffmpeg concat run by hand (the list and argv
//! come from `replayd::replay::clip`, so they are byte for byte what the
//! daemon runs) and against `cat` of the same files (the byte-copy floor).

use crate::common::{Client, Daemon};
use crate::launch::first_child;
use crate::media::{range, ClipTree};
use crate::stats::secs;
use replayd::replay::clip;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a single clip job may take before the bench gives up.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(900);

pub struct ClipRow {
    pub minutes: u32,
    pub entries: usize,
    pub bytes: u64,
    pub replayd: Vec<f64>,
    pub hand: Vec<f64>,
    /// By hand at the priority replayd gives ffmpeg (nice 19, IO best-effort 7).
    pub hand_low: Vec<f64>,
    pub cat: Vec<f64>,
    pub breakdown: Option<Breakdown>,
}

/// Where one replayd run spent its time, from a 1 ms sampler of the
/// daemon's children (its own, untimed run: the sampler costs CPU).
pub struct Breakdown {
    pub total: f64,
    /// start request sent → ffmpeg seen.
    pub before_ffmpeg: f64,
    pub ffmpeg: f64,
    /// ffmpeg gone → ffprobe seen.
    pub between: f64,
    pub ffprobe: f64,
    /// ffprobe gone → success event received.
    pub after_ffprobe: f64,
}

pub fn is_terminal_job(e: &Value) -> bool {
    e["event"] == "job_state"
        && matches!(
            e["job"]["status"].as_str(),
            Some("success" | "failed" | "cancelled")
        )
        && e["job"]["id"] != "stopped"
}

/// A start in copy mode: this part measures ffmpeg's clip job (link mode,
/// the default where it can, has its own part: `link`).
pub fn start_request(t0: f64, t1: f64) -> Value {
    start_request_in(t0, t1, "copy")
}

pub fn start_request_in(t0: f64, t1: f64, clip_mode: &str) -> Value {
    json!({"cmd": "start", "camera": "front", "start_time": t0, "end_time": t1,
           "clip_mode": clip_mode})
}

/// Starts a session and waits for its job's end; returns the wall time
/// from sending start to receiving the terminal job state.
pub fn replayd_once(
    daemon: &Daemon,
    events: &mut Client,
    ctl: &mut Client,
    t0: f64,
    t1: f64,
) -> f64 {
    let started = Instant::now();
    let reply = ctl.request(&start_request(t0, t1));
    assert_eq!(reply["ok"], true, "start refused: {reply}");
    let done = events
        .wait_for_event(JOB_TIMEOUT, is_terminal_job)
        .unwrap_or_else(|| panic!("no end of the clip job\n{}", daemon.log_report()));
    let took = secs(started.elapsed());
    assert_eq!(
        done["job"]["status"],
        "success",
        "clip job did not succeed: {done}\n{}",
        daemon.log_report()
    );
    took
}

/// Stops the session and consumes its events up to the summary.
pub fn stop_session(daemon: &Daemon, events: &mut Client, ctl: &mut Client) -> Value {
    let reply = ctl.cmd("stop");
    assert_eq!(reply["ok"], true, "stop failed: {reply}");
    events
        .wait_for_event(Duration::from_secs(30), |e| e["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary event\n{}", daemon.log_report()));
    reply
}

/// The by-hand run: write the list, run ffmpeg with replayd's argv;
/// `low` gives it the priority replayd gives its ffmpeg.
pub fn hand_once(list_path: &Path, list: &[u8], out: &Path, low: bool) -> f64 {
    let _ = fs::remove_file(out);
    let started = Instant::now();
    fs::write(list_path, list).expect("write concat list");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(clip::ffmpeg_args(list_path, out))
        .stdin(Stdio::null());
    if low {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                // ioprio_set(IOPRIO_WHO_PROCESS, self, best-effort class 2, level 7).
                libc::syscall(libc::SYS_ioprio_set, 1, 0, (2 << 13) | 7);
                Ok(())
            });
        }
    }
    let result = cmd.output().expect("run ffmpeg");
    let took = secs(started.elapsed());
    assert!(
        result.status.success(),
        "ffmpeg by hand failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let _ = fs::remove_file(out);
    took
}

/// The byte-copy floor: `cat` of the same files into one file, same fs.
fn cat_once(files: &[PathBuf], out: &Path) -> f64 {
    let _ = fs::remove_file(out);
    let started = Instant::now();
    let file = fs::File::create(out).expect("create cat output");
    let status = Command::new("cat")
        .args(files)
        .stdin(Stdio::null())
        .stdout(file)
        .status()
        .expect("run cat");
    let took = secs(started.elapsed());
    assert!(status.success(), "cat failed");
    let _ = fs::remove_file(out);
    took
}

/// Dirty pages of the previous run are written back before the next one,
/// so no run pays for another's writeback.
pub fn settle() {
    nix::unistd::sync();
    std::thread::sleep(Duration::from_millis(100));
}

pub fn run(tree: &ClipTree, daemon: &Daemon, minutes: &[u32], reps: usize) -> Vec<ClipRow> {
    let mut events = Client::subscribe(daemon.socket());
    let mut ctl = daemon.client();
    let replay_dir = tree.root().replay_dir();
    std::fs::create_dir_all(&replay_dir).expect("replay dir");
    let list_path = tree.bench.runtime.join("_bench_hand.ffconcat");
    let hand_out = replay_dir.join("_bench_hand.mp4");
    let cat_out = replay_dir.join("_bench_cat.bin");
    let mut rows = Vec::new();
    for &m in minutes {
        let (t0, t1) = range(m);
        let plan = clip::plan(&tree.segments, t0, t1);
        let list = clip::concat_list(&plan).expect("concat list");
        let files: Vec<PathBuf> = plan.entries.iter().map(|e| e.path.clone()).collect();
        let bytes = files
            .iter()
            .map(|p| fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        let mut row = ClipRow {
            minutes: m,
            entries: plan.entries.len(),
            bytes,
            replayd: Vec::new(),
            hand: Vec::new(),
            hand_low: Vec::new(),
            cat: Vec::new(),
            breakdown: None,
        };
        eprintln!(
            "bench: clip {m} min ({} segments, {:.0} MB), {reps} reps",
            row.entries,
            bytes as f64 / 1e6
        );
        // Warm-up: page cache, ffmpeg's own libraries, the daemon's first start.
        fs::create_dir_all(&replay_dir).expect("replay dir");
        hand_once(&list_path, &list, &hand_out, false);
        replayd_once(daemon, &mut events, &mut ctl, t0, t1);
        stop_session(daemon, &mut events, &mut ctl);
        for rep in 0..reps {
            // Rotate the order so no contender always runs first after a sync.
            for k in 0..4 {
                settle();
                fs::create_dir_all(&replay_dir).expect("replay dir");
                match (rep + k) % 4 {
                    0 => {
                        row.replayd
                            .push(replayd_once(daemon, &mut events, &mut ctl, t0, t1));
                        stop_session(daemon, &mut events, &mut ctl);
                    }
                    1 => row
                        .hand
                        .push(hand_once(&list_path, &list, &hand_out, false)),
                    2 => row
                        .hand_low
                        .push(hand_once(&list_path, &list, &hand_out, true)),
                    _ => row.cat.push(cat_once(&files, &cat_out)),
                }
            }
        }
        settle();
        row.breakdown = Some(breakdown(daemon, &mut events, &mut ctl, t0, t1));
        stop_session(daemon, &mut events, &mut ctl);
        let _ = fs::remove_file(&list_path);
        rows.push(row);
    }
    rows
}

struct Span {
    comm: String,
    first: f64,
    last: f64,
}

/// One replayd run with a sampler thread that notes, every millisecond,
/// which child the daemon has (ffmpeg, then ffprobe).
fn breakdown(
    daemon: &Daemon,
    events: &mut Client,
    ctl: &mut Client,
    t0: f64,
    t1: f64,
) -> Breakdown {
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Instant::now();
    let pid = daemon.pid();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut spans: Vec<(u32, Span)> = Vec::new();
            // Bounded: the job itself is bounded by JOB_TIMEOUT.
            while !stop.load(Ordering::Relaxed) && origin.elapsed() < JOB_TIMEOUT {
                if let Some(child) = first_child(pid) {
                    let now = secs(origin.elapsed());
                    let comm = || {
                        fs::read_to_string(format!("/proc/{child}/comm"))
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    };
                    match spans.last_mut() {
                        Some((p, span)) if *p == child => {
                            span.last = now;
                            // Seen between fork and exec, it was still "replayd".
                            if span.comm != "ffmpeg" && span.comm != "ffprobe" {
                                span.comm = comm();
                            }
                        }
                        _ => {
                            let comm = comm();
                            spans.push((
                                child,
                                Span {
                                    comm,
                                    first: now,
                                    last: now,
                                },
                            ));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            spans
        })
    };
    let total = replayd_once(daemon, events, ctl, t0, t1);
    stop.store(true, Ordering::Relaxed);
    let spans = sampler.join().expect("sampler");
    let find = |name: &str| spans.iter().map(|(_, s)| s).find(|s| s.comm == name);
    let (Some(ff), Some(probe)) = (find("ffmpeg"), find("ffprobe")) else {
        eprintln!(
            "bench: breakdown saw children {:?}",
            spans.iter().map(|(_, s)| &s.comm).collect::<Vec<_>>()
        );
        return Breakdown {
            total,
            before_ffmpeg: f64::NAN,
            ffmpeg: f64::NAN,
            between: f64::NAN,
            ffprobe: f64::NAN,
            after_ffprobe: f64::NAN,
        };
    };
    Breakdown {
        total,
        before_ffmpeg: ff.first,
        ffmpeg: ff.last - ff.first,
        between: probe.first - ff.last,
        ffprobe: probe.last - probe.first,
        after_ffprobe: total - probe.last,
    }
}
