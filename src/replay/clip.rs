//! The clip job's pure parts (SPEC §2 "preparing_clip"): which parts of which
//! segments make up the clip, the ffconcat list that says so, the ffmpeg and
//! ffprobe command lines, the `-progress` parser, and the checks that run on
//! the finished clip. No syscalls here: the daemon's IO shell spawns the
//! processes and feeds their output in.
//!
//! Paths reach ffmpeg as `file:` URLs, in argv and in the list alike: ffmpeg
//! otherwise picks a protocol from anything that looks like `name:`, and the
//! concat demuxer would resolve a list entry through its URL parser.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A recording segment whose file exists and is non-empty (the daemon filters
/// missing and empty ones). Times are Unix seconds from the NVR database; the
/// file's own timestamps start at 0 (Frigate writes segments with
/// `-reset_timestamps 1`), which is what in/outpoints are relative to.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub path: PathBuf,
    pub start_time: f64,
    pub end_time: f64,
}

/// One `file` line of the concat list and what it contributes to the clip.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanEntry {
    pub path: PathBuf,
    /// Seconds into the file where the clip starts (first entry only).
    pub inpoint: Option<f64>,
    /// Seconds into the file where the clip stops (last entry only).
    pub outpoint: Option<f64>,
    /// Where this entry begins in the clip, in seconds. Gaps between
    /// recordings are not in the clip: the concat demuxer butts files together.
    pub start_offset: f64,
    /// Seconds this entry contributes.
    pub covers: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClipPlan {
    pub entries: Vec<PlanEntry>,
    /// Sum of `covers`. The real clip is longer: stream copy has to start at
    /// the keyframe before the inpoint (up to one GOP more), and with B-frames
    /// the cut at the outpoint lets a few more frames through.
    pub expected_duration: f64,
}

impl ClipPlan {
    fn from_entries(mut entries: Vec<PlanEntry>) -> Self {
        let mut offset = 0.0;
        for entry in &mut entries {
            entry.start_offset = offset;
            offset += entry.covers;
        }
        ClipPlan {
            entries,
            expected_duration: offset,
        }
    }
}

/// A recording segment's row and what the daemon found of its file.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFile {
    pub path: PathBuf,
    pub start_time: f64,
    pub end_time: f64,
    pub state: SegmentState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SegmentState {
    /// Cannot be opened: why.
    Missing(String),
    Empty,
    /// A non-empty file, with its video parameters when its header told them.
    Present {
        size: u64,
        params: Option<VideoParams>,
        /// What its own MP4 header says it lasts.
        duration: Option<f64>,
        /// What link mode needs to know of it (`fstat` of the descriptor
        /// its header was read through).
        facts: Option<crate::replay::link::FileFacts>,
    },
}

/// The segments a clip can be made of, their total size, and a warning for
/// each one left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Usable {
    pub segments: Vec<Segment>,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// Missing or empty segment files are skipped, and so are segments whose
/// video parameters cannot follow the first segment's in a stream copy (a
/// resolution change would give a broken clip). A segment whose header could
/// not be read is kept: ffmpeg and the duration check judge it.
pub fn usable_segments(camera: &str, files: &[SegmentFile]) -> Usable {
    let mut usable = Usable::default();
    let mut first: Option<&VideoParams> = None;
    for file in files {
        let path = file.path.display();
        match &file.state {
            SegmentState::Missing(why) => usable.warnings.push(format!(
                "skipping recording segment {path} of camera {camera}: {why}"
            )),
            SegmentState::Empty => usable.warnings.push(format!(
                "skipping empty recording segment {path} of camera {camera}"
            )),
            SegmentState::Present {
                size,
                params,
                duration,
                ..
            } => {
                if let Err(e) = quote_path(&file.path) {
                    usable.warnings.push(format!(
                        "skipping recording segment {path} of camera {camera}: {e}"
                    ));
                    continue;
                }
                if let Some(params) = params {
                    match first {
                        None => first = Some(params),
                        Some(reference) if !params.concatenable_after(reference) => {
                            usable.warnings.push(format!(
                                "skipping recording segment {path} of camera {camera}: {} {}x{} cannot follow the clip's {} {}x{}",
                                params.codec,
                                params.width,
                                params.height,
                                reference.codec,
                                reference.width,
                                reference.height
                            ));
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                usable.bytes += size;
                // A file shorter than its row says is planned for what it
                // holds, so the duration check never blames the segments
                // after it for the difference (finite and positive only).
                let end_time = match duration {
                    Some(d) if d.is_finite() && *d > 0.0 => file.end_time.min(file.start_time + d),
                    _ => file.end_time,
                };
                usable.segments.push(Segment {
                    path: file.path.clone(),
                    start_time: file.start_time,
                    end_time,
                });
            }
        }
    }
    usable
}

/// The free space a clip of `bytes` of footage needs: its size plus 5% plus
/// 16 MiB.
pub fn space_needed(bytes: u64) -> u64 {
    bytes.saturating_add(bytes / 20 + 16 * 1024 * 1024)
}

/// The parts of `segments` that fall in `[start, end]`, in time order.
///
/// Only the first entry can get an inpoint and only the last an outpoint:
/// an inpoint on a later entry would make the concat demuxer emit the
/// keyframe run-up of that file with timestamps before the end of the
/// previous one. Segments that contribute nothing (outside the range, or
/// with bogus times) are dropped.
pub fn plan(segments: &[Segment], start: f64, end: f64) -> ClipPlan {
    if !(start.is_finite() && end.is_finite() && end > start) {
        return ClipPlan::default();
    }
    let mut ordered: Vec<&Segment> = segments.iter().collect();
    // The database returns them ordered already; a stable sort keeps that
    // order for equal start times and protects against a caller that did not.
    ordered.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));

    let mut entries = Vec::new();
    // A segment wholly inside what earlier ones cover (a duplicate row) would
    // play the same footage twice.
    let mut covered_until = f64::NEG_INFINITY;
    for seg in ordered {
        if !(seg.start_time.is_finite() && seg.end_time.is_finite()) {
            continue;
        }
        if seg.end_time <= covered_until {
            continue;
        }
        covered_until = seg.end_time;
        let from = start.max(seg.start_time);
        let to = end.min(seg.end_time);
        let covers = to - from;
        if covers <= 0.0 {
            continue;
        }
        let inpoint = from - seg.start_time;
        let outpoint = to - seg.start_time;
        let length = seg.end_time - seg.start_time;
        entries.push(PlanEntry {
            path: seg.path.clone(),
            inpoint: (inpoint > 0.0).then_some(inpoint),
            outpoint: (outpoint < length).then_some(outpoint),
            start_offset: 0.0,
            covers,
        });
    }
    ClipPlan::from_entries(entries)
}

/// The clip source of `start_from_export`: the whole file, cut nowhere.
pub fn plan_whole_file(path: &Path, duration: f64) -> ClipPlan {
    let covers = if duration.is_finite() {
        duration.max(0.0)
    } else {
        0.0
    };
    ClipPlan::from_entries(vec![PlanEntry {
        path: path.to_path_buf(),
        inpoint: None,
        outpoint: None,
        start_offset: 0.0,
        covers,
    }])
}

/// A path the concat list cannot carry faithfully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The list is line-based: a line break would end the `file` directive
    /// early and turn the rest of the name into a directive of its own.
    #[error("path {0:?} contains a line break, which an ffconcat list cannot hold")]
    LineBreak(PathBuf),
    /// ffmpeg reads the list as C strings: a NUL would cut the name short
    /// and name another file.
    #[error("path {0:?} contains a NUL byte")]
    Nul(PathBuf),
    /// The concat demuxer resolves a relative entry against the list's own
    /// directory, not against the daemon's working directory.
    #[error("path {0:?} is not absolute")]
    NotAbsolute(PathBuf),
}

/// `path` as one quoted ffconcat token: inside single quotes every byte is
/// literal (spaces, backslashes, `#`, non-UTF-8 bytes), and a `'` closes the
/// quote, adds an escaped quote and reopens it: `'it'\''s'`.
pub fn quote_path(path: &Path) -> Result<Vec<u8>, ListError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(ListError::LineBreak(path.to_path_buf()));
    }
    if bytes.contains(&0) {
        return Err(ListError::Nul(path.to_path_buf()));
    }
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    Ok(out)
}

/// `path` as an explicit `file:` URL, so that ffmpeg never takes a leading
/// `name:` for a protocol (`http:`, `concat:`, ...) or a leading `-` for an
/// option.
pub fn ffmpeg_url(path: &Path) -> OsString {
    let mut url = b"file:".to_vec();
    url.extend_from_slice(path.as_os_str().as_bytes());
    OsString::from_vec(url)
}

/// The ffconcat list for `plan`.
pub fn concat_list(plan: &ClipPlan) -> Result<Vec<u8>, ListError> {
    let mut out = b"ffconcat version 1.0\n".to_vec();
    for entry in &plan.entries {
        if !entry.path.is_absolute() {
            return Err(ListError::NotAbsolute(entry.path.clone()));
        }
        // Checked on the bare path so that the error names what the caller gave.
        quote_path(&entry.path)?;
        out.extend_from_slice(b"file ");
        out.extend_from_slice(&quote_path(Path::new(&ffmpeg_url(&entry.path)))?);
        out.push(b'\n');
        // Each entry is read as an MP4 and nothing else, whatever its bytes
        // look like to ffmpeg's probe.
        out.extend_from_slice(b"option format_whitelist mov,mp4,m4a,3gp,3g2,mj2\n");
        // Microseconds: ffmpeg's time parser reads no finer, and a fixed
        // format keeps the list byte-for-byte reproducible.
        if let Some(inpoint) = entry.inpoint {
            out.extend_from_slice(format!("inpoint {inpoint:.6}\n").as_bytes());
        }
        if let Some(outpoint) = entry.outpoint {
            out.extend_from_slice(format!("outpoint {outpoint:.6}\n").as_bytes());
        }
    }
    Ok(out)
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// ffmpeg's argv (without the program name) to cut the clip listed in `list`
/// into `output`.
///
/// Only the first video stream is kept (`-map 0:v:0`). `-map 0` fails outright
/// on a segment with a data track (`Cannot map stream #0:2 - unsupported
/// type`, measured with a timecode track), and audio serves no purpose in a
/// replay (the replay camera runs with audio disabled) while it adds failure
/// modes: AAC segment boundaries give non-monotonous DTS warnings, and a
/// segment with a different set of streams than the first cannot be
/// concatenated. Detection reads the first video stream, so that is all the
/// clip needs.
pub fn ffmpeg_args(list: &Path, output: &Path) -> Vec<OsString> {
    let mut args = os_args(&[
        "-hide_banner",
        "-nostdin",
        // Warnings and errors only: the journal's rate limit must never be
        // spent on ffmpeg chatter.
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
        // Only local files, whatever a list entry says (not ffmpeg's
        // defaults to rely on): the concat demuxer passes this on to every
        // file it opens.
        "-protocol_whitelist",
        "file",
        "-f",
        "concat",
        // The list holds absolute paths and `file:` URLs, which safe mode refuses.
        "-safe",
        "0",
        "-i",
    ]);
    args.push(ffmpeg_url(list));
    args.extend(os_args(&[
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        "-y",
    ]));
    args.push(ffmpeg_url(output));
    args
}

/// ffprobe's argv to print the container duration of `path` in seconds, alone
/// on a line.
pub fn ffprobe_duration_args(path: &Path) -> Vec<OsString> {
    let mut args = os_args(&[
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-show_entries",
        "format=duration",
        "-of",
        "default=noprint_wrappers=1:nokey=1",
    ]);
    args.push(ffmpeg_url(path));
    args
}

/// The duration printed by [`ffprobe_duration_args`]; `None` for `N/A` or
/// anything that is not a finite, non-negative number.
pub fn parse_probe_duration(stdout: &str) -> Option<f64> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    let seconds: f64 = line.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

/// What decides whether a segment can follow the first one in a stream-copy
/// concat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoParams {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// FNV-1a hash of the codec's out-of-band parameter sets (avcC / hvcC).
    pub extradata_hash: Option<String>,
}

impl VideoParams {
    /// Whether a segment with these parameters can follow one with `first`'s
    /// without breaking the clip.
    ///
    /// The output's sample description comes from the first file only.
    /// Measured with ffmpeg 5.1: H.264 survives new parameter sets, because
    /// the concat demuxer's `auto_convert` puts them in-band; H.265 does not
    /// (a 320x240 → 640x480 change decodes as garbage, with no error and exit
    /// status 0), so for every other codec the parameter sets must match.
    /// A resolution change is refused for every codec: the clip's header
    /// would announce the wrong frame size.
    pub fn concatenable_after(&self, first: &VideoParams) -> bool {
        self.codec == first.codec
            && self.width == first.width
            && self.height == first.height
            && (self.codec == "h264" || self.extradata_hash == first.extradata_hash)
    }
}

/// What one `-progress` block says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProgressUpdate {
    /// Seconds of clip written so far.
    OutTime(f64),
    /// `progress=end`: ffmpeg finished writing.
    End,
}

/// Longer lines are not ffmpeg progress; dropping them bounds the buffer.
const MAX_PROGRESS_LINE: usize = 1024;

/// Parses ffmpeg's `-progress` output as it arrives, in chunks that may split
/// lines anywhere. At most one [`ProgressUpdate::OutTime`] per block, from the
/// first usable of `out_time_us`, `out_time_ms` (also microseconds, despite
/// its name) and `out_time`.
#[derive(Debug, Default)]
pub struct ProgressParser {
    line: Vec<u8>,
    /// The current line went over [`MAX_PROGRESS_LINE`]; skip to its end.
    discarding: bool,
    /// This block already produced its `OutTime`.
    block_has_time: bool,
}

impl ProgressParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) -> Vec<ProgressUpdate> {
        let mut updates = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if !self.discarding {
                    self.line_done(&line, &mut updates);
                }
                // Handed back to keep its capacity for the next line.
                line.clear();
                self.line = line;
                self.discarding = false;
            } else if !self.discarding {
                if self.line.len() < MAX_PROGRESS_LINE {
                    self.line.push(b);
                } else {
                    self.line.clear();
                    self.discarding = true;
                }
            }
        }
        updates
    }

    fn line_done(&mut self, line: &[u8], updates: &mut Vec<ProgressUpdate>) {
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        let Some((key, value)) = line.trim().split_once('=') else {
            return;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "progress" => {
                self.block_has_time = false;
                if value == "end" {
                    updates.push(ProgressUpdate::End);
                }
            }
            "out_time_us" | "out_time_ms" | "out_time" if !self.block_has_time => {
                let seconds = if key == "out_time" {
                    parse_clock(value)
                } else {
                    parse_micros(value)
                };
                if let Some(seconds) = seconds {
                    self.block_has_time = true;
                    updates.push(ProgressUpdate::OutTime(seconds));
                }
            }
            _ => {}
        }
    }
}

/// Microseconds; `N/A` and negative values (ffmpeg prints both before the
/// first packet is out) are no progress.
fn parse_micros(value: &str) -> Option<f64> {
    let micros: f64 = value.parse().ok()?;
    (micros.is_finite() && micros >= 0.0).then_some(micros / 1e6)
}

/// `HH:MM:SS.micro`; a negative clock (`-00:00:00.066667`) is no progress.
fn parse_clock(value: &str) -> Option<f64> {
    let mut parts = value.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let sec_ok = s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !(all_digits(h) && all_digits(m) && sec_ok) {
        return None;
    }
    let (h, m, s): (f64, f64, f64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    let seconds = h * 3600.0 + m * 60.0 + s;
    seconds.is_finite().then_some(seconds)
}

/// Progress of the clip in percent, clamped to `[0, 100]`: the written time
/// overshoots the requested duration by the keyframe run-up.
pub fn percent(out_time: f64, duration: f64) -> f64 {
    if !(duration.is_finite() && duration > 0.0) {
        return 0.0;
    }
    let p = out_time / duration * 100.0;
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 100.0)
    }
}

/// Whether the clip ended early, and if so at which entry: the index of the
/// bad segment.
///
/// ffmpeg's exit status does not tell: a segment the concat demuxer cannot
/// open ends the output there with status 0. The probed duration then lands
/// near that entry's `start_offset`, shifted up by the keyframe run-up at the
/// start of the clip (up to one GOP) and either way by the drift between the
/// database's times and the files. `tolerance` absorbs that: pass about one
/// GOP. The blamed entry is the first one that did not make it whole; an entry
/// shorter than twice the tolerance counts as whole only if at least half of
/// it made it, so a short bad entry is not passed over.
pub fn truncated_at(plan: &ClipPlan, actual_duration: f64, tolerance: f64) -> Option<usize> {
    let tolerance = if tolerance.is_finite() {
        tolerance.max(0.0)
    } else {
        0.0
    };
    // NaN (an unreadable probe) counts as nothing written.
    let actual = actual_duration.max(0.0);
    if plan.entries.is_empty() || actual >= plan.expected_duration - tolerance {
        return None;
    }
    plan.entries
        .iter()
        .position(|e| e.start_offset + e.covers > actual + tolerance.min(e.covers / 2.0))
        // Unreachable for a plan built here (the last entry ends at the
        // expected duration, beyond `actual + tolerance`); a hand-made plan
        // whose offsets do not add up gets its last entry blamed.
        .or(Some(plan.entries.len() - 1))
}

/// `plan` without the entry at `index` (a bad segment): the others keep their
/// in/outpoints and move up to close the gap. An index out of range changes
/// nothing.
pub fn without_entry(plan: &ClipPlan, index: usize) -> ClipPlan {
    let entries = plan
        .entries
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != index)
        .map(|(_, e)| e.clone())
        .collect();
    ClipPlan::from_entries(entries)
}

#[cfg(test)]
mod tests;
