//! Link mode (SPEC §2 "clip modes"), its pure parts: the names of the hard
//! links and the playlist that strings them together, whether the kernel
//! will let replayd make the links, and which mode a session uses. No
//! syscalls here: the daemon gathers the facts (`fstat` of the descriptor it
//! already opened, `fs.protected_hardlinks`) and makes the links.
//!
//! The playlist is read by the NVR's ffmpeg through the concat demuxer,
//! detected from its first line, in its default safe mode: so every name in
//! it is relative and made of `[0-9a-z.]`, and it carries no `option`
//! directive (safe mode refuses those: "option not allowed if safe",
//! measured with ffmpeg 5.1).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::ClipMode;
use crate::replay::clip::ClipPlan;

/// The playlist's name in the replay camera's folder.
pub const PLAYLIST: &str = "playlist.ffconcat";

/// The playlist's name while it is written (renamed over [`PLAYLIST`]).
pub const PLAYLIST_TEMP: &str = "playlist.ffconcat.tmp";

/// Links made per step: between two steps the daemon's loop serves its
/// clients (a stop is never kept waiting for a long range).
pub const BATCH: usize = 256;

/// Longest playlist read back at recovery: a line of at most ~40 bytes per
/// entry, and at most one entry per second of `session.max_range` would be
/// far less than this.
pub const PLAYLIST_MAX: u64 = 16 * 1024 * 1024;

/// The mode a session's footage is prepared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Hard links beside a playlist: no footage copied.
    Link,
    /// One clip cut by ffmpeg with stream copy (what every session was
    /// before link mode, so an older session.json reads as this).
    #[default]
    Copy,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Link => "link",
            Mode::Copy => "copy",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The mode chosen for a start, and why when it is not link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModeChoice {
    pub mode: Mode,
    /// `clip_mode_reason` of status: why link mode is not used.
    pub reason: Option<String>,
    /// `clip_mode = link` was asked for: a link refused at run time fails
    /// the job instead of falling back to copy.
    pub forced: bool,
}

/// The name of the link of the plan's entry `index`: `000000.mp4`, ...
pub fn link_name(index: usize) -> String {
    format!("{index:06}.mp4")
}

/// Whether `name` is one [`link_name`] makes: six or more digits, `.mp4`.
pub fn is_link_name(name: &str) -> bool {
    name.strip_suffix(".mp4")
        .is_some_and(|digits| digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The playlist for `plan`: per entry its link's name, the seconds that
/// play (`covers`: a `duration` longer than what plays would leave a gap
/// in the timeline at the next entry), the first entry's inpoint and the
/// last one's outpoint, with the same numbers copy mode's concat list uses.
pub fn playlist(plan: &ClipPlan, skipped: &[usize]) -> String {
    let mut out = String::with_capacity(24 + plan.entries.len() * 48);
    out.push_str("ffconcat version 1.0\n");
    // A skipped entry has no link; the others keep their plan-order names.
    // Its inpoint or outpoint goes with it: the next segment plays whole.
    let kept = plan
        .entries
        .iter()
        .enumerate()
        .filter(|(index, _)| !skipped.contains(index));
    for (index, entry) in kept {
        out.push_str("file ");
        out.push_str(&link_name(index));
        out.push('\n');
        // Microseconds, as in the concat list: ffmpeg reads no finer.
        out.push_str(&format!("duration {:.6}\n", entry.covers.max(0.0)));
        if let Some(inpoint) = entry.inpoint {
            out.push_str(&format!("inpoint {inpoint:.6}\n"));
        }
        if let Some(outpoint) = entry.outpoint {
            out.push_str(&format!("outpoint {outpoint:.6}\n"));
        }
    }
    out
}

/// The link names a playlist refers to, in order; `None` when the text is
/// not a playlist replayd wrote (so a recovered session is not trusted).
pub fn playlist_names(text: &str) -> Option<Vec<&str>> {
    let mut lines = text.lines();
    if lines.next()? != "ffconcat version 1.0" {
        return None;
    }
    let mut names = Vec::new();
    for line in lines {
        let (directive, value) = line.split_once(' ')?;
        match directive {
            "file" if is_link_name(value) => names.push(value),
            "duration" | "inpoint" | "outpoint" => {}
            _ => return None,
        }
    }
    (!names.is_empty()).then_some(names)
}

/// What `fstat` told of a file to be linked, and whether replayd may read
/// and write it (`faccessat` with its effective credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub mode: u32,
    pub writable: bool,
}

/// The facts of the host a link is made on.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkHost<'a> {
    pub replay_dir: &'a Path,
    /// `st_dev` of the replay dir.
    pub replay_dev: u64,
    /// replayd's effective uid.
    pub euid: u32,
    /// `fs.protected_hardlinks` is set (a missing sysctl counts as set).
    pub protected_hardlinks: bool,
}

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_IXGRP: u32 = 0o0010;

/// Whether the kernel lets replayd link `path` into the replay dir, and if
/// not, why: one file system (a link cannot cross it), and under
/// `fs.protected_hardlinks` replayd owns the file or may read and write it
/// (and it is neither set-uid nor executable set-gid), as `may_linkat`
/// decides it.
pub fn linkable(path: &Path, facts: &FileFacts, host: &LinkHost<'_>) -> Result<(), String> {
    if facts.dev != host.replay_dev {
        return Err(format!(
            "cross-device: {} is on another file system than the replay dir {}",
            path.display(),
            host.replay_dir.display()
        ));
    }
    if !host.protected_hardlinks || facts.uid == host.euid {
        return Ok(());
    }
    let setid = facts.mode & S_ISUID != 0 || facts.mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP;
    if facts.writable && !setid {
        return Ok(());
    }
    Err(format!(
        "protected_hardlinks: {} is owned by uid {}, not writable by replayd (uid {})",
        path.display(),
        facts.uid,
        host.euid
    ))
}

/// The first reason any of `files` cannot be linked.
pub fn all_linkable<'p>(
    files: impl IntoIterator<Item = (&'p Path, FileFacts)>,
    host: &LinkHost<'_>,
) -> Result<(), String> {
    files
        .into_iter()
        .try_for_each(|(path, facts)| linkable(path, &facts, host))
}

/// The mode a start uses: `requested` (the request's `clip_mode`, else
/// `session.clip_mode`) against whether linking is possible. `link` forced
/// and impossible is refused with the reason; `auto` falls back to copy
/// and says why.
pub fn choose(requested: ClipMode, feasible: Result<(), String>) -> Result<ModeChoice, String> {
    match (requested, feasible) {
        (ClipMode::Copy, _) => Ok(ModeChoice {
            mode: Mode::Copy,
            reason: Some("clip_mode copy".into()),
            forced: true,
        }),
        (ClipMode::Link, Ok(())) => Ok(ModeChoice {
            mode: Mode::Link,
            reason: None,
            forced: true,
        }),
        (ClipMode::Link, Err(why)) => Err(format!("clip_mode link is not possible: {why}")),
        (ClipMode::Auto, Ok(())) => Ok(ModeChoice {
            mode: Mode::Link,
            reason: None,
            forced: false,
        }),
        (ClipMode::Auto, Err(why)) => Ok(ModeChoice {
            mode: Mode::Copy,
            reason: Some(why),
            forced: false,
        }),
    }
}

/// The warning a session carries when `auto` could not link.
pub fn fallback_warning(reason: &str) -> String {
    format!("link mode not used, the footage is copied: {reason}")
}

#[cfg(test)]
mod tests;
