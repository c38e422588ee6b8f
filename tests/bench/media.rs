//! The bench's recordings: 10-second 1280x720 H.264 segments at 15 fps,
//! made once with the real ffmpeg and cached outside git, and NVR trees
//! that point at them.
//!
//! The cache is `$CARGO_TARGET_TMPDIR/bench-fixtures/<KEY>/chunk<k>/`, one
//! chunk per 10 minutes (60 segments), so the quick mode makes only what it
//! uses and the full mode adds the rest. A chunk is written to a temp dir
//! and renamed into place, so a half-made chunk is never seen. `cargo clean`
//! removes it.

use crate::common::root::{segment_rel_path, BASE_TIME};
use crate::common::TestRoot;
use replayd::replay::clip;
use rusqlite::params;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Bump when the recipe below changes.
pub const KEY: &str = "bench-v1-h264-1280x720-15fps-gop15-ultrafast-1Mbps-10s";
pub const SEGMENT_SECONDS: f64 = 10.0;
/// Segments per cached chunk (10 minutes).
pub const CHUNK_SEGMENTS: usize = 60;

/// The cached segments of the first `chunks` chunks, in order.
pub struct Pool {
    pub segments: Vec<PathBuf>,
    /// Wall time spent generating in this run, per chunk generated.
    pub generated: Vec<Duration>,
    pub bytes: u64,
}

pub fn pool(chunks: usize) -> io::Result<Pool> {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-fixtures")
        .join(KEY);
    fs::create_dir_all(&base)?;
    let mut out = Pool {
        segments: Vec::new(),
        generated: Vec::new(),
        bytes: 0,
    };
    for k in 0..chunks {
        let dir = base.join(format!("chunk{k}"));
        if !complete(&dir) {
            let t = Instant::now();
            generate(&base, &dir, k)?;
            let took = t.elapsed();
            eprintln!(
                "bench: generated {} ({} x {SEGMENT_SECONDS} s of 1280x720) in {:.1} s",
                dir.display(),
                CHUNK_SEGMENTS,
                took.as_secs_f64()
            );
            out.generated.push(took);
        }
        for p in chunk_files(&dir) {
            out.bytes += fs::metadata(&p)?.len();
            out.segments.push(p);
        }
    }
    Ok(out)
}

fn chunk_files(dir: &Path) -> Vec<PathBuf> {
    (0..CHUNK_SEGMENTS)
        .map(|i| dir.join(format!("seg{i:03}.mp4")))
        .collect()
}

fn complete(dir: &Path) -> bool {
    dir.join("complete").is_file()
        && chunk_files(dir)
            .iter()
            .all(|p| p.metadata().is_ok_and(|m| m.len() > 0))
}

/// One ffmpeg run of `seconds` of test pattern cut into 10 s segments by
/// the segment muxer (`pattern`: `…/seg%03d.mp4`), like a camera recorded by
/// the NVR: no B-frames, a keyframe every second, MP4 with the index up
/// front; `extra` goes before the muxer (a bitrate).
pub fn record_segments(
    pattern: &Path,
    size: &str,
    fps: u32,
    seconds: f64,
    extra: &[&str],
) -> io::Result<()> {
    let gop = fps.to_string();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate={fps}"),
        ])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-bf",
            "0",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
        ])
        .args(extra)
        .args([
            "-f",
            "segment",
            "-segment_time",
            "10",
            "-reset_timestamps",
            "1",
        ])
        .args(["-segment_format", "mp4"])
        .args(["-segment_format_options", "movflags=+faststart"])
        .arg(pattern)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ffmpeg recording {} failed ({}): {}",
            pattern.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// The 720p chunks of the clip bench: `ultrafast` at 1 Mbit/s keeps
/// generation short.
fn generate(base: &Path, dir: &Path, chunk: usize) -> io::Result<()> {
    let tmp = base.join(format!("chunk{chunk}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(&tmp)?;
    let seconds = CHUNK_SEGMENTS as f64 * SEGMENT_SECONDS;
    record_segments(
        &tmp.join("seg%03d.mp4"),
        "1280x720",
        15,
        seconds,
        &["-b:v", "1M", "-maxrate", "1M", "-bufsize", "2M"],
    )?;
    fs::write(tmp.join("complete"), format!("{KEY}\n"))?;
    if !complete(&tmp) {
        return Err(io::Error::other(format!(
            "ffmpeg did not write {CHUNK_SEGMENTS} segments in {}",
            tmp.display()
        )));
    }
    fs::rename(&tmp, dir)
}

/// A test root set up like a production host: log level info (the
/// default), and the runtime dir (session.json, published cameras, the
/// concat list, the control socket) on tmpfs like `/run/replayd`, so its
/// fsyncs cost what they cost there. No recordings.
pub struct BenchRoot {
    pub root: TestRoot,
    pub runtime: PathBuf,
}

static RUNTIME_SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn bench_root() -> BenchRoot {
    let shm = Path::new("/dev/shm");
    let runtime = if shm.is_dir() {
        let seq = RUNTIME_SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = shm.join(format!("replayd-bench-{}-{seq}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("runtime dir on tmpfs");
        Some(dir)
    } else {
        None
    };
    let on_tmpfs = runtime.clone();
    let root = TestRoot::builder()
        .segments(0)
        .toml(move |t| {
            t.log_level = Some("info".into());
            if let Some(dir) = on_tmpfs {
                t.socket = Some(dir.join("control.sock"));
                t.runtime_dir = Some(dir);
            }
        })
        .build();
    let runtime = runtime.unwrap_or_else(|| root.run_dir());
    BenchRoot { root, runtime }
}

impl Drop for BenchRoot {
    fn drop(&mut self) {
        if self.runtime.starts_with("/dev/shm") {
            let _ = fs::remove_dir_all(&self.runtime);
        }
    }
}

/// An NVR tree whose camera `front` has `positions` consecutive 10 s
/// recordings (files hard-linked from the pool, cycling through it; rows in
/// `recordings`).
pub struct ClipTree {
    pub bench: BenchRoot,
    pub segments: Vec<clip::Segment>,
}

impl ClipTree {
    pub fn root(&self) -> &TestRoot {
        &self.bench.root
    }
}

pub fn clip_tree(pool: &Pool, positions: usize) -> ClipTree {
    let bench = bench_root();
    let root = &bench.root;
    let mut segments = Vec::with_capacity(positions);
    let recordings = root.media().join("recordings/front");
    for i in 0..positions {
        let start = BASE_TIME + i as f64 * SEGMENT_SECONDS;
        let path = recordings.join(segment_rel_path(start));
        fs::create_dir_all(path.parent().unwrap()).expect("segment dir");
        let src = &pool.segments[i % pool.segments.len()];
        if fs::hard_link(src, &path).is_err() {
            fs::copy(src, &path).expect("copy segment");
        }
        segments.push(clip::Segment {
            path,
            start_time: start,
            end_time: start + SEGMENT_SECONDS,
        });
    }
    let mut conn = root.db();
    let tx = conn.transaction().expect("begin");
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, \
                 objects, motion, segment_size, dBFS, regions) \
                 VALUES (?1, 'front', ?2, ?3, ?4, ?5, 0, 10, ?6, 0, 1)",
            )
            .expect("prepare");
        for (i, s) in segments.iter().enumerate() {
            let bytes = fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0);
            stmt.execute(params![
                format!("{:.1}-bench{i:04}", s.start_time),
                s.path.to_string_lossy(),
                s.start_time,
                s.end_time,
                SEGMENT_SECONDS,
                (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0,
            ])
            .expect("insert recording");
        }
    }
    tx.commit().expect("commit");
    drop(conn);
    ClipTree { bench, segments }
}

/// The range of an `minutes`-long clip: 5 s into the first segment, so the
/// concat list has an inpoint and an outpoint like a real request.
pub fn range(minutes: u32) -> (f64, f64) {
    let t0 = BASE_TIME + 5.0;
    (t0, t0 + f64::from(minutes) * 60.0)
}

/// Segments a clip of `minutes` touches (one more than it covers whole).
pub fn positions_for(minutes: u32) -> usize {
    (f64::from(minutes) * 60.0 / SEGMENT_SECONDS) as usize + 1
}
