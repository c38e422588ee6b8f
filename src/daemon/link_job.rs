//! Link mode's IO, as the lifecycle asks for it (SPEC §2 "clip modes"): the
//! facts a start's mode is chosen by, the links made a batch at a time, the
//! playlist written, and the check a resumed session's links get. What to
//! do and when is decided in `replay::lifecycle`; names, playlist text and
//! the feasibility rules live in `replay::link`.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{accessat, Access, AtFlags, CWD};
use rustix::io::Errno;

use crate::config::ClipMode;
use crate::nvr::media::{open_segment, SegmentError};
use crate::replay::clip::ClipPlan;
use crate::replay::errors::RequestError;
use crate::replay::lifecycle::{Input, JobFailure};
use crate::replay::link::{self, FileFacts, LinkHost, ModeChoice};

use super::replay_folder::ReplayFolder;
use super::Daemon;

/// `fs.protected_hardlinks`; a kernel without the sysctl is taken as
/// protecting (the safe guess: the check then asks for ownership or access).
fn protected_hardlinks() -> bool {
    match std::fs::read_to_string("/proc/sys/fs/protected_hardlinks") {
        Ok(text) => text.trim() != "0",
        Err(_) => true,
    }
}

/// What `fstat` of an open file says, and (only when it matters: the file
/// is someone else's) whether replayd may read and write it, asked of the
/// kernel through the descriptor with replayd's effective credentials.
pub(super) fn file_facts(file: &File, euid: u32) -> std::io::Result<FileFacts> {
    let meta = file.metadata()?;
    let writable = meta.uid() != euid && {
        let through = format!("/proc/self/fd/{}", file.as_raw_fd());
        accessat(
            CWD,
            through.as_str(),
            Access::READ_OK | Access::WRITE_OK,
            AtFlags::EACCESS,
        )
        .is_ok()
    };
    Ok(FileFacts {
        dev: meta.dev(),
        ino: meta.ino(),
        uid: meta.uid(),
        mode: meta.mode(),
        writable,
    })
}

pub(super) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl Daemon {
    /// The clip mode of a start: the request's, else `session.clip_mode`,
    /// against whether every file of the plan can be linked into the
    /// replay dir. `link` forced and impossible is refused here, before
    /// anything is written.
    pub(super) fn choose_clip_mode<'p>(
        &self,
        requested: Option<ClipMode>,
        files: impl IntoIterator<Item = (&'p Path, Option<FileFacts>)>,
    ) -> Result<ModeChoice, RequestError> {
        let requested = requested.unwrap_or(self.loaded.config.session.clip_mode);
        let feasible = if requested == ClipMode::Copy {
            Ok(())
        } else {
            self.linkable(files)
        };
        link::choose(requested, feasible).map_err(RequestError::InvalidParams)
    }

    fn linkable<'p>(
        &self,
        files: impl IntoIterator<Item = (&'p Path, Option<FileFacts>)>,
    ) -> Result<(), String> {
        let replay_dir = &self.loaded.config.session.replay_dir;
        let replay_dev = std::fs::create_dir_all(replay_dir)
            .and_then(|()| std::fs::metadata(replay_dir))
            .map_err(|e| format!("cannot read the replay dir {}: {e}", replay_dir.display()))?
            .dev();
        let host = LinkHost {
            replay_dir,
            replay_dev,
            euid: euid(),
            protected_hardlinks: protected_hardlinks(),
        };
        for (path, facts) in files {
            let facts =
                facts.ok_or_else(|| format!("cannot read the file facts of {}", path.display()))?;
            link::linkable(path, &facts, &host)?;
        }
        Ok(())
    }

    /// Links the plan's entries from `from` on, at most [`link::BATCH`]:
    /// each segment is opened (no symlink, a regular non-empty file) and
    /// the link made from that descriptor.
    pub(super) fn link_segments(&mut self, replay: &str, plan: &ClipPlan, from: usize) -> Input {
        if from == 0 {
            if let Err(e) = self.record_folder(replay) {
                return Input::StepFailed(JobFailure::Io(e));
            }
        }
        let replay_dir = &self.loaded.config.session.replay_dir;
        let folder = match ReplayFolder::create(replay_dir, replay) {
            Ok(folder) => folder,
            Err(e) => {
                return Input::StepFailed(JobFailure::Io(format!(
                    "cannot prepare the replay folder: {e}"
                )))
            }
        };
        let end = from.saturating_add(link::BATCH).min(plan.entries.len());
        let mut bytes = 0u64;
        let mut skipped = Vec::new();
        for (index, entry) in plan.entries.iter().enumerate().take(end).skip(from) {
            let root = self.read_root(&entry.path).unwrap_or(&entry.path);
            let (file, size) = match open_segment(root, &entry.path) {
                Ok(opened) => opened,
                // Gone or emptied since the start's check (the NVR's
                // retention at the range's old end): skipped, as the check
                // skips it, with a warning that names it.
                Err(e @ (SegmentError::NotFound { .. } | SegmentError::Empty { .. })) => {
                    skipped.push((
                        index,
                        format!("skipping recording segment: {e} (gone since the start's check)"),
                    ));
                    continue;
                }
                Err(e) => {
                    return Input::StepFailed(JobFailure::Io(format!("cannot link: {e}")));
                }
            };
            match folder.link_file(&file, &link::link_name(index)) {
                Ok(()) => bytes = bytes.saturating_add(size),
                Err(Errno::XDEV) => {
                    return Input::LinkRefused {
                        reason: format!(
                            "cross-device: {} is on another file system than the replay dir {} (or another mount of it)",
                            entry.path.display(),
                            replay_dir.display()
                        ),
                    }
                }
                Err(Errno::PERM) => {
                    let owner = file
                        .metadata()
                        .map(|m| m.uid().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Input::LinkRefused {
                        reason: format!(
                            "protected_hardlinks: {} is owned by uid {owner}, not writable by replayd (uid {}): the kernel refused the link",
                            entry.path.display(),
                            euid()
                        ),
                    };
                }
                Err(e) => {
                    return Input::StepFailed(JobFailure::Io(format!(
                        "cannot link {} into {}: {}",
                        entry.path.display(),
                        folder.path().display(),
                        std::io::Error::from(e)
                    )))
                }
            }
        }
        Input::Linked {
            upto: end,
            bytes,
            skipped,
        }
    }

    /// The playlist of the links, written atomically beside them.
    pub(super) fn write_playlist(
        &mut self,
        replay: &str,
        plan: &ClipPlan,
        skipped: &[usize],
    ) -> Input {
        let text = link::playlist(plan, skipped);
        let written = ReplayFolder::open_existing(&self.loaded.config.session.replay_dir, replay)
            .and_then(|folder| {
                folder.write_replace(link::PLAYLIST_TEMP, link::PLAYLIST, text.as_bytes())
            });
        match written {
            Ok(()) => Input::PlaylistWritten,
            Err(e) => Input::StepFailed(JobFailure::Io(format!("cannot write the playlist: {e}"))),
        }
    }

    /// Whether a resumed link-mode session still has its playlist and
    /// every link it names (regular files in replayd's own folder).
    pub(super) fn links_intact(&self, replay: &str) -> bool {
        let check = || -> std::io::Result<bool> {
            let folder =
                ReplayFolder::open_existing(&self.loaded.config.session.replay_dir, replay)?;
            let mut text = String::new();
            folder
                .open_file(link::PLAYLIST)?
                .take(link::PLAYLIST_MAX)
                .read_to_string(&mut text)?;
            let Some(names) = link::playlist_names(&text) else {
                return Ok(false);
            };
            Ok(names.iter().all(|name| folder.open_file(name).is_ok()))
        };
        match check() {
            Ok(intact) => intact,
            Err(e) => {
                log::warn!("the links of {replay} cannot be checked: {e}");
                false
            }
        }
    }

    /// Write-ahead: the ledger names the folder before it exists.
    pub(super) fn record_folder(&mut self, replay: &str) -> Result<(), String> {
        if self.ledger.folders().iter().any(|f| f.camera == replay) {
            return Ok(());
        }
        self.ledger
            .record_folder(replay)
            .map_err(|e| format!("cannot record {replay} in the ledger: {e}"))?;
        self.save_ledger()
    }
}
