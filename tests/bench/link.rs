//! The `link` part (issue 11): time from the start request to `ready`, in
//! link mode and in copy mode and against ffmpeg's concat by hand, for 1
//! minute, 1 hour and 6 hours of 10-second segments, with a warm page
//! cache and (where `/proc/sys/vm/drop_caches` can be written) a cold one;
//! and the bytes each mode writes into the replay folder.
//!
//! The segments are tiny (160x90, 5 fps) but each is its own file, 2160
//! of them for 6 h, generated once by one ffmpeg run and cached beside the
//! other bench fixtures: what link mode pays for is the count (one open,
//! one header read, one link per segment), not the size.

use crate::clip::{hand_once, is_terminal_job, start_request_in, stop_session, JOB_TIMEOUT};
use crate::common::{Client, Daemon};
use crate::media::{self, Pool};
use crate::stats::secs;
use replayd::replay::clip;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const KEY: &str = "link-v1-h264-160x90-5fps-gop5-10s";
const SIX_HOURS: usize = 2160;

pub struct LinkRow {
    pub label: &'static str,
    pub segments: usize,
    pub link_warm: Vec<f64>,
    pub link_cold: Option<f64>,
    pub copy_warm: f64,
    pub copy_cold: Option<f64>,
    pub hand_warm: f64,
    /// Bytes of new blocks in the replay folder once ready (files with one
    /// link only: the segments' links add none).
    pub link_bytes: u64,
    pub copy_bytes: u64,
    pub linked_bytes: u64,
}

/// 6 h of distinct tiny segments, cached.
pub fn tiny_pool() -> Pool {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-fixtures")
        .join(KEY);
    let files: Vec<PathBuf> = (0..SIX_HOURS)
        .map(|i| dir.join(format!("seg{i:04}.mp4")))
        .collect();
    let mut generated = Vec::new();
    if !dir.join("complete").is_file() {
        let t = Instant::now();
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&tmp).unwrap();
        if let Err(e) = media::record_segments(
            &tmp.join("seg%04d.mp4"),
            "160x90",
            5,
            (SIX_HOURS * 10) as f64,
            &[],
        ) {
            panic!("generating the link fixtures: {e}");
        }
        fs::write(tmp.join("complete"), KEY).unwrap();
        fs::rename(&tmp, &dir).unwrap();
        let took = t.elapsed();
        eprintln!(
            "bench: generated {SIX_HOURS} tiny segments in {:.1} s",
            took.as_secs_f64()
        );
        generated.push(took);
    }
    let bytes = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    Pool {
        segments: files,
        generated,
        bytes,
    }
}

/// Drops the page cache (and dentries and inodes); false where it cannot.
pub fn drop_caches() -> bool {
    let _ = Command::new("sync").status();
    fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Start → terminal job state in `clip_mode`; the session's status then.
fn ready_once(
    daemon: &Daemon,
    events: &mut Client,
    ctl: &mut Client,
    minutes: f64,
    clip_mode: &str,
) -> (f64, Value) {
    let (t0, t1) = (media::range(1).0, media::range(1).0 + minutes * 60.0);
    let started = Instant::now();
    let reply = ctl.request(&start_request_in(t0, t1, clip_mode));
    assert_eq!(reply["ok"], true, "start refused: {reply}");
    let done = events
        .wait_for_event(JOB_TIMEOUT, is_terminal_job)
        .unwrap_or_else(|| panic!("no end of the job\n{}", daemon.log_report()));
    let took = secs(started.elapsed());
    assert_eq!(
        done["job"]["status"],
        "success",
        "{done}\n{}",
        daemon.log_report()
    );
    let status = ctl.cmd("status");
    assert_eq!(status["session"]["clip_mode"], clip_mode, "{status}");
    (took, status)
}

/// Bytes of blocks the replay folder's own files hold (a hard link to a
/// segment is not the folder's: it has more than one name).
fn own_bytes(folder: &Path) -> u64 {
    fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.nlink() == 1)
                .map(|m| m.blocks() * 512)
                .sum()
        })
        .unwrap_or(0)
}

pub fn run(pool: &Pool, reps: usize, cold: bool) -> Vec<LinkRow> {
    let sizes: [(&'static str, f64); 3] = [("1 min", 1.0), ("1 h", 60.0), ("6 h", 359.0)];
    let tree = media::clip_tree(pool, SIX_HOURS);
    let daemon = Daemon::spawn(tree.root());
    let mut events = Client::subscribe(daemon.socket());
    let mut ctl = daemon.client();
    let folder = tree.root().replay_dir().join("_replay_front");
    let mut rows = Vec::new();
    for (label, minutes) in sizes {
        // Warm-up (also fills the page cache for the warm runs).
        ready_once(&daemon, &mut events, &mut ctl, minutes, "link");
        stop_session(&daemon, &mut events, &mut ctl);
        let mut link_warm = Vec::new();
        let (mut link_bytes, mut linked_bytes, mut segments) = (0, 0, 0);
        for _ in 0..reps {
            let (took, status) = ready_once(&daemon, &mut events, &mut ctl, minutes, "link");
            link_warm.push(took);
            link_bytes = own_bytes(&folder);
            linked_bytes = status["session"]["linked_bytes"].as_u64().unwrap_or(0);
            segments = fs::read_dir(&folder).map(|d| d.count() - 1).unwrap_or(0);
            stop_session(&daemon, &mut events, &mut ctl);
        }
        let link_cold = (cold && drop_caches()).then(|| {
            let (took, _) = ready_once(&daemon, &mut events, &mut ctl, minutes, "link");
            stop_session(&daemon, &mut events, &mut ctl);
            took
        });
        let (copy_warm, _) = ready_once(&daemon, &mut events, &mut ctl, minutes, "copy");
        let copy_bytes = own_bytes(&folder);
        stop_session(&daemon, &mut events, &mut ctl);
        // A cold copy of 6 h reads GBs of a real camera's footage; of these
        // tiny segments the count dominates, as for link mode.
        let copy_cold = (cold && drop_caches()).then(|| {
            let (took, _) = ready_once(&daemon, &mut events, &mut ctl, minutes, "copy");
            stop_session(&daemon, &mut events, &mut ctl);
            took
        });
        let hand_warm = {
            let (t0, t1) = (media::range(1).0, media::range(1).0 + minutes * 60.0);
            let plan = clip::plan(&tree.segments, t0, t1);
            let list = clip::concat_list(&plan).unwrap();
            let scratch = tree.root().path().join("by-hand");
            fs::create_dir_all(&scratch).unwrap();
            let took = hand_once(
                &scratch.join("list.ffconcat"),
                &list,
                &scratch.join("clip.mp4"),
                false,
            );
            let _ = fs::remove_dir_all(&scratch);
            took
        };
        rows.push(LinkRow {
            label,
            segments,
            link_warm,
            link_cold,
            copy_warm,
            copy_cold,
            hand_warm,
            link_bytes,
            copy_bytes,
            linked_bytes,
        });
    }
    rows
}
