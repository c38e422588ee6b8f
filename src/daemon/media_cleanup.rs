//! A replay camera's media files, and the stale replay cameras found at boot.
//!
//! Everything here runs with write access to the whole media root, usually
//! as a user that may delete any recording, so it is written to be unable to
//! remove anything but a replay camera's own files:
//!
//! - only names with the replay prefix that are valid camera names;
//! - every path component below the media root is opened with `O_NOFOLLOW`
//!   and everything after that goes through `openat`/`unlinkat` on directory
//!   descriptors, so a symlink planted anywhere (or swapped in during the
//!   walk) is at most unlinked itself, never followed;
//! - snapshot and thumbnail files must have a digit right after
//!   `<camera>-`, because Frigate's event ids start with a Unix time: this is
//!   what keeps `_replay_front` from matching `_replay_front-door-…`.
//!
//! Errors on single entries do not stop a cleanup: the rest is still removed,
//! and the failures are reported (see [`Removal`]).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{openat, statat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::replay::names;

/// Directory depth below a camera directory that we are willing to walk.
/// Frigate's deepest layout is `recordings/<cam>/<date>/<hour>/<cam>/file`;
/// the cap only bounds open descriptors against a pathological tree.
const MAX_DEPTH: usize = 32;

/// The outcome of a cleanup that kept going past errors.
#[derive(Debug, Default)]
pub struct Removal {
    /// Non-directory entries unlinked (files, and symlinks removed as links).
    pub files: u64,
    /// Entries that could not be removed or were not entered, with why.
    pub failures: Vec<(PathBuf, io::Error)>,
}

impl Removal {
    fn fail(&mut self, path: PathBuf, e: impl Into<io::Error>) {
        self.failures.push((path, e.into()));
    }
}

/// Removes the replay camera's files under `media_root` (SPEC §2 cleanup).
///
/// Removes `recordings/<cam>/`, `clips/<cam>/`, `clips/thumbs/<cam>/`,
/// `clips/previews/<cam>/` (recursively) and `clips/<cam>-<digit>*.jpg`,
/// `clips/<cam>-<digit>*-clean.{webp,png}`, `clips/review/thumb-<cam>-<digit>*.webp`.
/// Missing paths (the media root included) are not errors. A name that is
/// not a replay camera name is refused with `InvalidInput`; a media root that
/// exists but cannot be opened is an error. Failures on single entries are
/// handed back with the count of what was removed.
///
/// The digit rule cannot tell `_replay_front`'s `_replay_front-1-1700….jpg`
/// from a camera named `_replay_front-1`; pass the names that must survive
/// (the cameras the NVR config defines, a session being resumed) as `spare`.
/// A `camera` that is itself in `spare` is refused with `InvalidInput`, so
/// the whole NVR camera list can be passed as is.
pub fn remove_camera_files_sparing<S: AsRef<str>>(
    media_root: &Path,
    camera: &str,
    spare: &[S],
) -> io::Result<Removal> {
    check_name(camera)?;
    let spare: Vec<&str> = spare.iter().map(AsRef::as_ref).collect();
    if spare.contains(&camera) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to clean {camera:?}: it is to be spared"),
        ));
    }
    let mut out = Removal::default();
    let Some(root) = open_root(media_root)? else {
        return Ok(out);
    };
    let cam = cstring(camera)?;

    if let Some(recordings) = open_dir(&root, media_root, "recordings", &mut out) {
        let base = media_root.join("recordings");
        remove_tree(&recordings, &base, &cam, 0, &mut out);
    }

    let clips_path = media_root.join("clips");
    if let Some(clips) = open_dir(&root, media_root, "clips", &mut out) {
        remove_tree(&clips, &clips_path, &cam, 0, &mut out);
        for sub in ["thumbs", "previews"] {
            if let Some(dir) = open_dir(&clips, &clips_path, sub, &mut out) {
                remove_tree(&dir, &clips_path.join(sub), &cam, 0, &mut out);
            }
        }
        remove_matching(&clips, &clips_path, &mut out, |name| {
            is_snapshot_of(name, camera) && !spare.iter().any(|s| is_snapshot_of(name, s))
        });
        if let Some(review) = open_dir(&clips, &clips_path, "review", &mut out) {
            remove_matching(&review, &clips_path.join("review"), &mut out, |name| {
                is_review_thumb_of(name, camera)
                    && !spare.iter().any(|s| is_review_thumb_of(name, s))
            });
        }
    }
    Ok(out)
}

fn check_name(camera: &str) -> io::Result<()> {
    if names::is_replay_name(camera) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to clean {camera:?}: not a replay camera name"),
        ))
    }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// `<camera>-<digit>…` ending in `.jpg`, `-clean.webp` or `-clean.png`.
fn is_snapshot_of(name: &str, camera: &str) -> bool {
    match after_camera(name, camera) {
        Some(rest) => {
            rest.ends_with(".jpg") || rest.ends_with("-clean.webp") || rest.ends_with("-clean.png")
        }
        None => false,
    }
}

/// `thumb-<camera>-<digit>….webp`.
fn is_review_thumb_of(name: &str, camera: &str) -> bool {
    name.strip_prefix("thumb-")
        .and_then(|rest| after_camera(rest, camera))
        .is_some_and(|rest| rest.ends_with(".webp"))
}

/// What follows `<camera>-` when it starts with a digit.
fn after_camera<'a>(name: &'a str, camera: &str) -> Option<&'a str> {
    name.strip_prefix(camera)?
        .strip_prefix('-')
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// The media root itself may be a symlink (a mount elsewhere is common);
/// everything below it is opened without following links.
fn open_root(media_root: &Path) -> io::Result<Option<OwnedFd>> {
    match openat(
        CWD,
        media_root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(io::Error::new(
            io::Error::from(e).kind(),
            format!("cannot open media root {}: {e}", media_root.display()),
        )),
    }
}

fn open_nofollow(parent: &OwnedFd, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens a fixed media directory (`clips`, `recordings`, …) below `parent`.
/// Missing: `None`. A symlink or anything else: `None`, recorded as a
/// failure, since the camera's files behind it are then left in place.
fn open_dir(
    parent: &OwnedFd,
    parent_path: &Path,
    name: &str,
    out: &mut Removal,
) -> Option<OwnedFd> {
    let path = parent_path.join(name);
    let cname = match cstring(name) {
        Ok(c) => c,
        Err(e) => {
            out.fail(path, e);
            return None;
        }
    };
    match open_nofollow(parent, &cname) {
        Ok(fd) => Some(fd),
        Err(Errno::NOENT) => None,
        Err(Errno::LOOP) | Err(Errno::NOTDIR) if is_symlink(parent, &cname) => {
            out.fail(
                path,
                io::Error::other("is a symbolic link; not followed out of the media root"),
            );
            None
        }
        Err(e) => {
            out.fail(path, e);
            None
        }
    }
}

fn is_symlink(dir: &OwnedFd, name: &CStr) -> bool {
    statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

/// The entries of `dir` (without `.` and `..`), with their types resolved
/// without following links. Collected before anything is unlinked, so
/// removal never races the directory stream.
fn list(dir: &OwnedFd, path: &Path, out: &mut Removal) -> Vec<(CString, FileType)> {
    let mut entries = Vec::new();
    let stream = match Dir::read_from(dir) {
        Ok(s) => s,
        Err(e) => {
            out.fail(path.to_path_buf(), e);
            return entries;
        }
    };
    for entry in stream {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.fail(path.to_path_buf(), e);
                break;
            }
        };
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let mut kind = entry.file_type();
        if kind == FileType::Unknown {
            // Some file systems leave d_type empty.
            match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => kind = FileType::from_raw_mode(st.st_mode),
                Err(Errno::NOENT) => continue,
                Err(e) => {
                    out.fail(path.join(os_str(name)), e);
                    continue;
                }
            }
        }
        entries.push((name.to_owned(), kind));
    }
    entries
}

fn os_str(name: &CStr) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(name.to_bytes())
}

/// Unlinks the non-directory entries of `dir` whose names satisfy `wanted`.
fn remove_matching(dir: &OwnedFd, path: &Path, out: &mut Removal, wanted: impl Fn(&str) -> bool) {
    for (name, kind) in list(dir, path, out) {
        if kind == FileType::Directory {
            continue;
        }
        let Ok(utf8) = name.to_str() else { continue };
        if !wanted(utf8) {
            continue;
        }
        match unlinkat(dir, name.as_c_str(), AtFlags::empty()) {
            Ok(()) => out.files += 1,
            Err(Errno::NOENT) => {}
            Err(e) => out.fail(path.join(os_str(&name)), e),
        }
    }
}

/// Removes `parent/name` and everything below it, counting non-directories.
/// A symlink (or a file) at `name` is unlinked itself; directories are
/// entered only through `O_NOFOLLOW` descriptors.
fn remove_tree(parent: &OwnedFd, parent_path: &Path, name: &CStr, depth: usize, out: &mut Removal) {
    let path = parent_path.join(os_str(name));
    let dir = match open_nofollow(parent, name) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return,
        Err(Errno::LOOP | Errno::NOTDIR) => {
            match unlinkat(parent, name, AtFlags::empty()) {
                Ok(()) => out.files += 1,
                Err(Errno::NOENT) => {}
                Err(e) => out.fail(path, e),
            }
            return;
        }
        Err(e) => {
            out.fail(path, e);
            return;
        }
    };
    if depth >= MAX_DEPTH {
        out.fail(
            path,
            io::Error::other("directory tree too deep; not removed"),
        );
        return;
    }
    for (child, kind) in list(&dir, &path, out) {
        if kind == FileType::Directory {
            remove_tree(&dir, &path, &child, depth + 1, out);
            continue;
        }
        match unlinkat(&dir, child.as_c_str(), AtFlags::empty()) {
            Ok(()) => out.files += 1,
            Err(Errno::NOENT) => {}
            // Turned into a directory since it was listed.
            Err(Errno::ISDIR) => remove_tree(&dir, &path, &child, depth + 1, out),
            Err(e) => out.fail(path.join(os_str(&child)), e),
        }
    }
    drop(dir);
    match unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => out.fail(path, e),
    }
}

#[cfg(test)]
mod tests;
