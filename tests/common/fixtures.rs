//! Media fixtures made with the real ffmpeg, generated once and cached.
//!
//! The cache lives in `$CARGO_TARGET_TMPDIR/fixtures/<KEY>/` (not in git,
//! removed by `cargo clean`). The key names the recipe, so changing the
//! recipe means changing [`KEY`]. Generation is guarded three ways:
//! a `OnceLock` for the threads of one test binary, an `flock` on
//! `<KEY>.lock` for test binaries running in parallel, and an atomic rename
//! of a fully written temp dir, so a half-made cache is never seen.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bump when the recipe below changes.
pub const KEY: &str = "v1-h264-320x240-15fps-gop15-2s-x60";
/// Segments in the pool; a test root that needs more cycles through them.
pub const POOL_SEGMENTS: usize = 60;
/// Length of each pool segment, seconds.
pub const SEGMENT_SECONDS: f64 = 2.0;
pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 240;
pub const FPS: u32 = 15;
/// Length of the export fixture, seconds.
pub const EXPORT_SECONDS: f64 = 6.0;

/// How long a test binary waits for another one that holds the cache lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(180);

/// The cached fixture files.
#[derive(Debug)]
pub struct FixtureCache {
    pub dir: PathBuf,
    /// `POOL_SEGMENTS` consecutive 2 s segments (`seg000.mp4` …).
    pub segments: Vec<PathBuf>,
    /// One 2 s segment at 640x480 (a resolution change).
    pub hires: PathBuf,
    /// A 6 s clip, the video of the fixture export row.
    pub export: PathBuf,
    /// Wall time spent generating, `None` if the cache already existed.
    pub generated_in: Option<Duration>,
}

impl FixtureCache {
    /// The pool segment for position `i` of a recording timeline.
    pub fn segment(&self, i: usize) -> &Path {
        &self.segments[i % self.segments.len()]
    }
}

/// The fixture cache, generated on first use in this process.
pub fn cache() -> &'static FixtureCache {
    static CACHE: OnceLock<FixtureCache> = OnceLock::new();
    CACHE.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
        load_or_generate(&base).unwrap_or_else(|e| {
            panic!(
                "cannot prepare ffmpeg fixtures under {}: {e}",
                base.display()
            )
        })
    })
}

fn expected(dir: &Path) -> FixtureCache {
    FixtureCache {
        dir: dir.to_path_buf(),
        segments: (0..POOL_SEGMENTS)
            .map(|i| dir.join(format!("seg{i:03}.mp4")))
            .collect(),
        hires: dir.join("hires-640x480.mp4"),
        export: dir.join("export-6s.mp4"),
        generated_in: None,
    }
}

fn complete(cache: &FixtureCache) -> bool {
    cache.dir.join("complete").is_file()
        && cache
            .segments
            .iter()
            .chain([&cache.hires, &cache.export])
            .all(|p| p.metadata().map(|m| m.len() > 0).unwrap_or(false))
}

fn load_or_generate(base: &Path) -> io::Result<FixtureCache> {
    let dir = base.join(KEY);
    let mut cache = expected(&dir);
    if complete(&cache) {
        return Ok(cache);
    }
    fs::create_dir_all(base)?;
    let _lock = CacheLock::acquire(&base.join(format!("{KEY}.lock")), LOCK_TIMEOUT)?;
    // Another binary may have finished while we waited for the lock.
    if complete(&cache) {
        return Ok(cache);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    let tmp = base.join(format!("{KEY}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir(&tmp)?;
    let started = Instant::now();
    generate_into(&tmp)?;
    fs::write(tmp.join("complete"), format!("{KEY}\n"))?;
    fs::rename(&tmp, &dir)?;
    let took = started.elapsed();
    eprintln!(
        "fixtures: generated {} in {:.2} s",
        dir.display(),
        took.as_secs_f64()
    );
    cache.generated_in = Some(took);
    Ok(cache)
}

/// Encoder settings shared by every fixture: H.264 without B-frames (like
/// most cameras), a keyframe every second, MP4 with the index up front.
fn h264_args(cmd: &mut Command) {
    cmd.args([
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    ])
    .args(["-bf", "0", "-g", &FPS.to_string(), "-keyint_min"])
    .arg(FPS.to_string())
    .args(["-sc_threshold", "0"]);
}

fn ffmpeg() -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .stdin(Stdio::null());
    cmd
}

fn testsrc(cmd: &mut Command, width: u32, height: u32, seconds: f64) {
    cmd.args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={width}x{height}:rate={FPS}"))
        .arg("-t")
        .arg(format!("{seconds}"));
}

fn run(mut cmd: Command, what: &str) -> io::Result<()> {
    let out = cmd.output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot run ffmpeg for {what} (is ffmpeg installed?): {e}"),
        )
    })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ffmpeg for {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn generate_into(dir: &Path) -> io::Result<()> {
    // The pool: one ffmpeg run cut into 2 s segments by the segment muxer.
    let mut cmd = ffmpeg();
    testsrc(
        &mut cmd,
        WIDTH,
        HEIGHT,
        POOL_SEGMENTS as f64 * SEGMENT_SECONDS,
    );
    h264_args(&mut cmd);
    cmd.args(["-f", "segment", "-segment_time"])
        .arg(format!("{SEGMENT_SECONDS}"))
        .args(["-reset_timestamps", "1", "-segment_format", "mp4"])
        .args(["-segment_format_options", "movflags=+faststart"])
        .arg(dir.join("seg%03d.mp4"));
    run(cmd, "the segment pool")?;

    let mut cmd = ffmpeg();
    testsrc(&mut cmd, 640, 480, SEGMENT_SECONDS);
    h264_args(&mut cmd);
    cmd.args(["-movflags", "+faststart"])
        .arg(dir.join("hires-640x480.mp4"));
    run(cmd, "the 640x480 segment")?;

    let mut cmd = ffmpeg();
    testsrc(&mut cmd, WIDTH, HEIGHT, EXPORT_SECONDS);
    h264_args(&mut cmd);
    cmd.args(["-movflags", "+faststart"])
        .arg(dir.join("export-6s.mp4"));
    run(cmd, "the export clip")?;

    let made = expected(dir);
    for p in made.segments.iter().chain([&made.hires, &made.export]) {
        if !p.is_file() {
            return Err(io::Error::other(format!(
                "ffmpeg did not produce {}",
                p.display()
            )));
        }
    }
    Ok(())
}

/// An exclusive `flock` held until drop, taken with a bounded wait.
struct CacheLock {
    _file: fs::File,
}

impl CacheLock {
    fn acquire(path: &Path, timeout: Duration) -> io::Result<CacheLock> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: flock on an fd we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(CacheLock { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock && err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("fixture lock {} held for too long", path.display()),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes a corrupt segment at `dest`: a good segment cut to half its
/// length (its index still promises frames the file no longer has).
pub fn write_truncated_segment(dest: &Path) -> io::Result<()> {
    let src = cache().segment(0);
    fs::copy(src, dest)?;
    let len = fs::metadata(dest)?.len();
    fs::OpenOptions::new()
        .write(true)
        .open(dest)?
        .set_len(len / 2)
}

/// Writes a 640x480 segment at `dest` (differs from the 320x240 pool).
pub fn write_hires_segment(dest: &Path) -> io::Result<()> {
    fs::copy(&cache().hires, dest).map(|_| ())
}

/// What ffprobe says about a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub codec: String,
}

/// Probes `path` with ffprobe; `None` when ffprobe cannot read it.
pub fn probe(path: &Path) -> Option<Probe> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "format=duration:stream=width,height,codec_name",
        ])
        .args(["-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let stream = v["streams"].get(0)?;
    Some(Probe {
        duration: v["format"]["duration"].as_str()?.parse().ok()?,
        width: stream["width"].as_u64()? as u32,
        height: stream["height"].as_u64()? as u32,
        codec: stream["codec_name"].as_str()?.to_string(),
    })
}

/// The duration ffprobe reports for `path`, seconds.
pub fn probe_duration(path: &Path) -> Option<f64> {
    probe(path).map(|p| p.duration)
}
