//! Part 2 of the bench, stop latency: stop request → response, cleanup
//! included, (a) while ffmpeg is cutting a long clip, (b) for a ready
//! session whose replay camera left 1,000 media files and 10,000 database
//! rows.

use crate::clip::{is_terminal_job, replayd_once, start_request, stop_session, JOB_TIMEOUT};
use crate::common::root::segment_rel_path;
use crate::common::{Client, Daemon};
use crate::launch::first_child;
use crate::media::{range, ClipTree};
use crate::stats::secs;
use rusqlite::params;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const CAMERA: &str = "_replay_front";
/// The camera whose copy of the artifacts the floor removes by hand.
const FLOOR_CAMERA: &str = "_replay_floor";

pub struct InFlight {
    pub latency: f64,
    /// stop sent → ffmpeg gone (finishing its file after SIGTERM), from a
    /// 1 ms sampler of the daemon's children.
    pub ffmpeg_exit: f64,
    /// Progress the job had reported when stop was sent.
    pub percent: f64,
    /// Size of the partial clip when stop was sent.
    pub part_bytes: u64,
}

pub fn in_flight(tree: &ClipTree, daemon: &Daemon, minutes: u32, reps: usize) -> Vec<InFlight> {
    let mut events = Client::subscribe(daemon.socket());
    let mut ctl = daemon.client();
    let (t0, t1) = range(minutes);
    let part = tree.root().clip_path(CAMERA).with_extension("mp4.part");
    let mut out = Vec::new();
    for _ in 0..reps {
        crate::clip::settle();
        let reply = ctl.request(&start_request(t0, t1));
        assert_eq!(reply["ok"], true, "start refused: {reply}");
        // ffmpeg has written something and is still at it.
        let progress = events
            .wait_for_event(JOB_TIMEOUT, |e| {
                is_terminal_job(e)
                    || (e["event"] == "job_state"
                        && e["job"]["results"]["current_step"] == "preparing_clip"
                        && e["job"]["results"]["progress_percent"]
                            .as_f64()
                            .is_some_and(|p| p > 0.0 && p < 100.0))
            })
            .unwrap_or_else(|| panic!("no progress\n{}", daemon.log_report()));
        assert!(
            !is_terminal_job(&progress),
            "the job ended before it could be stopped: {progress}"
        );
        let percent = progress["job"]["results"]["progress_percent"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let ffmpeg = first_child(daemon.pid());
        let part_bytes = fs::metadata(&part).map_or(0, |m| m.len());
        let started = Instant::now();
        let watcher = ffmpeg.map(|pid| {
            let daemon_pid = daemon.pid();
            std::thread::spawn(move || {
                // Bounded by the daemon's kill_grace (2 s) plus reaping.
                while first_child(daemon_pid) == Some(pid) && started.elapsed() < JOB_TIMEOUT {
                    std::thread::sleep(Duration::from_millis(1));
                }
                secs(started.elapsed())
            })
        });
        let reply = ctl.cmd("stop");
        let latency = secs(started.elapsed());
        let ffmpeg_exit = watcher.and_then(|w| w.join().ok()).unwrap_or(f64::NAN);
        assert_eq!(reply["ok"], true, "stop failed: {reply}");
        if let Some(pid) = ffmpeg {
            assert_ne!(
                first_child(daemon.pid()),
                Some(pid),
                "ffmpeg {pid} outlived the stop"
            );
        }
        events
            .wait_for_event(Duration::from_secs(30), |e| e["event"] == "summary")
            .unwrap_or_else(|| panic!("no summary event\n{}", daemon.log_report()));
        out.push(InFlight {
            latency,
            ffmpeg_exit,
            percent,
            part_bytes,
        });
    }
    out
}

pub struct Loaded {
    pub latency: f64,
    pub files_removed: u64,
    pub rows_removed: u64,
    /// The same removal by hand: `remove_dir_all` and unlink of the same
    /// files, the same DELETEs in one transaction (the floor).
    pub by_hand: f64,
}

pub const ARTIFACT_FILES: usize = 1_000;
pub const ARTIFACT_ROWS: usize = 10_000;

pub fn loaded(tree: &ClipTree, daemon: &Daemon, reps: usize) -> Vec<Loaded> {
    let mut events = Client::subscribe(daemon.socket());
    let mut ctl = daemon.client();
    let (t0, t1) = range(1);
    let mut out = Vec::new();
    let media = tree.root().media();
    for rep in 0..reps {
        // The floor first: another camera with the same files and rows.
        plant_files(&media, FLOOR_CAMERA, rep);
        plant_rows(tree, FLOOR_CAMERA, rep);
        crate::clip::settle();
        let by_hand = remove_by_hand(tree, FLOOR_CAMERA);

        replayd_once(daemon, &mut events, &mut ctl, t0, t1);
        plant_files(&media, CAMERA, rep);
        plant_rows(tree, CAMERA, rep);
        crate::clip::settle();
        let started = Instant::now();
        let reply = ctl.cmd("stop");
        let latency = secs(started.elapsed());
        assert_eq!(reply["ok"], true, "stop failed: {reply}");
        events
            .wait_for_event(Duration::from_secs(30), |e| e["event"] == "summary")
            .unwrap_or_else(|| panic!("no summary event\n{}", daemon.log_report()));
        let summary = &reply["summary"];
        let files_removed = summary["files_removed"].as_u64().unwrap_or(0);
        let rows_removed = summary["rows_removed"].as_u64().unwrap_or(0);
        assert!(
            files_removed > ARTIFACT_FILES as u64 && rows_removed == ARTIFACT_ROWS as u64,
            "cleanup removed {files_removed} files and {rows_removed} rows: {summary}"
        );
        out.push(Loaded {
            latency,
            files_removed,
            rows_removed,
            by_hand,
        });
    }
    // Leave the daemon idle for whoever comes next.
    let status = ctl.cmd("status");
    if status["session"]["active"] == true {
        stop_session(daemon, &mut events, &mut ctl);
    }
    out
}

/// 1,000 files where a replay camera's NVR writes them: 600 recordings,
/// 150 event thumbnails, 100 snapshots, 50 clean snapshots, 50 review
/// thumbnails, 50 previews.
/// Where a rep's ids and file names start: unique per rep and camera,
/// since every id is `<time>-<kind><index>`.
fn epoch(camera: &str, rep: usize) -> f64 {
    let floor = if camera == FLOOR_CAMERA {
        50_000.0
    } else {
        0.0
    };
    1_800_000_000.0 + rep as f64 * 100_000.0 + floor
}

fn plant_files(media: &Path, camera: &str, rep: usize) {
    let now = epoch(camera, rep);
    let mut n = 0;
    let mut put = |rel: String| {
        let p = media.join(rel);
        fs::create_dir_all(p.parent().unwrap()).expect("artifact dir");
        fs::write(&p, b"replay artifact").expect("artifact file");
        n += 1;
    };
    for i in 0..600 {
        let t = now + i as f64 * 10.0;
        put(format!(
            "recordings/{camera}/{}",
            segment_rel_path(t).display()
        ));
    }
    for i in 0..150 {
        put(format!("clips/thumbs/{camera}/{}.webp", event_id(now, i)));
    }
    for i in 0..100 {
        put(format!("clips/{camera}-{}.jpg", event_id(now, i)));
    }
    for i in 0..50 {
        put(format!("clips/{camera}-{}-clean.webp", event_id(now, i)));
    }
    for i in 0..50 {
        put(format!(
            "clips/review/thumb-{camera}-{}.webp",
            event_id(now, i)
        ));
    }
    for i in 0..50 {
        let t = now + i as f64 * 3600.0;
        put(format!(
            "clips/previews/{camera}/{t:.6}-{:.6}.mp4",
            t + 3600.0
        ));
    }
    assert_eq!(n, ARTIFACT_FILES);
}

fn event_id(now: f64, i: usize) -> String {
    format!("{:.6}-b{i:05}", now + i as f64 * 7.0)
}

/// 10,000 rows of the replay camera: 2,000 events, 4,000 timeline entries,
/// 1,000 recordings, 1,000 review segments each reviewed once, 999
/// previews and its regions row.
fn plant_rows(tree: &ClipTree, camera: &str, rep: usize) {
    let now = epoch(camera, rep);
    let mut conn = tree.root().db();
    let tx = conn.transaction().expect("begin");
    let mut rows = 0;
    {
        let mut event = tx
            .prepare(
                "INSERT INTO event (id, label, camera, start_time, end_time, top_score, \
                 false_positive, zones, has_clip, has_snapshot, region, box, area, \
                 retain_indefinitely, score, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0.8, 0, '[]', 1, 1, '[0,0,1,1]', '[0,0,1,1]', \
                 100, 0, 0.8, '{}')",
            )
            .expect("prepare event");
        for i in 0..2000 {
            let t = now + i as f64;
            let label = if i % 3 == 0 { "car" } else { "person" };
            event
                .execute(params![event_id(now, i), label, camera, t, t + 4.0])
                .expect("insert event");
            rows += 1;
        }
        let mut timeline = tx
            .prepare(
                "INSERT INTO timeline (timestamp, camera, source, source_id, class_type, data) \
                 VALUES (?1, ?2, 'tracked_object', ?3, 'visible', '{}')",
            )
            .expect("prepare timeline");
        for i in 0..4000 {
            timeline
                .execute(params![now + i as f64, camera, event_id(now, i / 2)])
                .expect("insert timeline");
            rows += 1;
        }
        let mut recording = tx
            .prepare(
                "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, \
                 objects, motion, segment_size, dBFS, regions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 10.0, 1, 10, 1.2, 0, 1)",
            )
            .expect("prepare recordings");
        for i in 0..1000 {
            let t = now + i as f64 * 10.0;
            recording
                .execute(params![
                    format!("{t:.1}-r{i:05}"),
                    camera,
                    format!("/nonexistent/{camera}/{i}.mp4"),
                    t,
                    t + 10.0
                ])
                .expect("insert recording");
            rows += 1;
        }
        let mut review = tx
            .prepare(
                "INSERT INTO reviewsegment (id, camera, start_time, end_time, severity, \
                 thumb_path, data) VALUES (?1, ?2, ?3, ?4, ?5, '', '{}')",
            )
            .expect("prepare reviewsegment");
        let mut status = tx
            .prepare(
                "INSERT INTO userreviewstatus (user_id, review_segment_id, has_been_reviewed) \
                 VALUES ('admin', ?1, 1)",
            )
            .expect("prepare userreviewstatus");
        for i in 0..1000 {
            let t = now + i as f64 * 20.0;
            let id = format!("{t:.6}-v{i:05}");
            let severity = if i % 2 == 0 { "alert" } else { "detection" };
            review
                .execute(params![id, camera, t, t + 10.0, severity])
                .expect("insert reviewsegment");
            status.execute(params![id]).expect("insert status");
            rows += 2;
        }
        let mut preview = tx
            .prepare(
                "INSERT INTO previews (id, camera, path, start_time, end_time, duration) \
                 VALUES (?1, ?2, '', ?3, ?4, 3600.0)",
            )
            .expect("prepare previews");
        for i in 0..999 {
            let t = now + i as f64 * 3600.0;
            preview
                .execute(params![format!("{t:.1}-p{i:05}"), camera, t, t + 3600.0])
                .expect("insert preview");
            rows += 1;
        }
        tx.execute(
            "INSERT OR REPLACE INTO regions (camera, last_update, grid) VALUES (?1, ?2, '[]')",
            params![camera, now],
        )
        .expect("insert regions");
        rows += 1;
    }
    tx.commit().expect("commit");
    assert_eq!(rows, ARTIFACT_ROWS);
}

/// Removes `camera`'s planted files and rows the plain way; returns the
/// wall time.
fn remove_by_hand(tree: &ClipTree, camera: &str) -> f64 {
    let media = tree.root().media();
    let started = Instant::now();
    for dir in ["recordings", "clips", "clips/thumbs", "clips/previews"] {
        let _ = fs::remove_dir_all(media.join(dir).join(camera));
    }
    for dir in ["clips", "clips/review"] {
        for entry in fs::read_dir(media.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let rest = name.strip_prefix("thumb-").unwrap_or(&name);
            if rest.starts_with(&format!("{camera}-"))
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let mut conn = tree.root().db();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("begin");
    tx.execute(
        "DELETE FROM userreviewstatus WHERE review_segment_id IN \
         (SELECT id FROM reviewsegment WHERE camera = ?1)",
        [camera],
    )
    .expect("delete userreviewstatus");
    for table in crate::common::root::CAMERA_TABLES {
        tx.execute(
            &format!("DELETE FROM \"{table}\" WHERE camera = ?1"),
            [camera],
        )
        .expect("delete rows");
    }
    tx.commit().expect("commit");
    secs(started.elapsed())
}
