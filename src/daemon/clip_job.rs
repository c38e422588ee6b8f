//! The clip job's IO, as the lifecycle asks for it: ffmpeg cuts, the clip is
//! measured, the camera file is written. What to do and when is decided in
//! `replay::lifecycle`; the plan, argv and checks live in `replay::clip`.

use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::replay::clip::{self, ClipPlan, ProgressParser};
use crate::replay::lifecycle::{ChildExit, Input, JobFailure};
use crate::replay::mp4::{self, Mp4Error};
use crate::replay::session::ChildRecord;

use super::child::{self, Child, Priority};
use super::replay_folder::{self, ReplayFolder};
use super::Daemon;

/// Most stdout kept from ffprobe (it prints one number).
const PROBE_OUTPUT_MAX: usize = 64 * 1024;

/// The one child process the lifecycle may have running, and what it printed.
pub(super) struct Running {
    pub child: Child,
    /// ffmpeg's `-progress` parser; `None` for ffprobe, whose stdout is kept.
    pub parser: Option<ProgressParser>,
    pub stdout: Vec<u8>,
}

impl Running {
    fn ffmpeg(child: Child) -> Running {
        Running {
            child,
            parser: Some(ProgressParser::new()),
            stdout: Vec::new(),
        }
    }

    pub fn ffprobe(child: Child) -> Running {
        Running {
            child,
            parser: None,
            stdout: Vec::new(),
        }
    }

    /// What the child printed since the last call: progress updates for
    /// ffmpeg; ffprobe's output is kept for its exit.
    pub fn read_stdout(&mut self) -> Vec<clip::ProgressUpdate> {
        let mut bytes = Vec::new();
        self.child.read_stdout(&mut bytes);
        match &mut self.parser {
            Some(parser) => parser.push(&bytes),
            None => {
                let room = PROBE_OUTPUT_MAX.saturating_sub(self.stdout.len());
                self.stdout
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
                Vec::new()
            }
        }
    }

    pub fn exit(self, status: ExitStatus) -> ChildExit {
        ChildExit {
            success: status.success(),
            status: describe(status),
            stdout: self.stdout,
            stderr_tail: self.child.stderr_tail(),
        }
    }
}

/// The concat list, clip and partial clip of a replay camera, and its
/// playlist in link mode.
pub(crate) struct ClipPaths {
    pub clip: PathBuf,
    pub part: PathBuf,
    pub list: PathBuf,
    pub playlist: PathBuf,
}

impl ClipPaths {
    /// `<replay dir>/<replay camera>/clip.mp4`: the replay camera's own
    /// folder, outside the NVR's `clips/replay/` (Frigate 0.18 empties that
    /// at each of its starts).
    pub fn new(replay_dir: &Path, runtime_dir: &Path, replay_camera: &str) -> ClipPaths {
        let dir = replay_dir.join(replay_camera);
        ClipPaths {
            clip: dir.join("clip.mp4"),
            part: dir.join("clip.mp4.part"),
            playlist: dir.join(crate::replay::link::PLAYLIST),
            list: runtime_dir.join(format!("{replay_camera}.ffconcat")),
        }
    }
}

impl Daemon {
    pub(super) fn clip_paths(&self, replay_camera: &str) -> ClipPaths {
        ClipPaths::new(
            &self.loaded.config.session.replay_dir,
            &self.loaded.config.runtime.dir,
            replay_camera,
        )
    }

    /// Removes the replay camera's folder (clip, partial clip, or links and
    /// playlist) and its
    /// concat list; the ledger forgets the folder once it is gone. Returns
    /// how many files went.
    pub(super) fn remove_replay_folder(&mut self, replay: &str) -> u64 {
        remove_quietly(&self.clip_paths(replay).list);
        let files =
            match replay_folder::remove_folder(&self.loaded.config.session.replay_dir, replay) {
                Ok(files) => files,
                Err(e) => {
                    log::warn!("cannot remove the replay folder of {replay}: {e}");
                    return 0;
                }
            };
        if self.ledger.drop_folder(replay) {
            let _ = self.save_ledger();
        }
        files
    }

    /// Writes the concat list and starts ffmpeg on `plan`.
    pub(super) fn spawn_clip(&mut self, replay: &str, plan: &ClipPlan, check_space: bool) -> Input {
        let paths = self.clip_paths(replay);
        let list = match clip::concat_list(plan) {
            Ok(list) => list,
            Err(e) => {
                return Input::StepFailed(JobFailure::Io(format!(
                    "cannot write the concat list: {e}"
                )))
            }
        };
        // A copy that follows a link refused at run time was not measured
        // against the free space at the start (links take none): it is now.
        // The sizes are the segments' as the kernel reports them beneath
        // their root (no link out of it counts).
        if check_space {
            let footage = plan
                .entries
                .iter()
                .filter_map(|e| {
                    let root = self.read_root(&e.path)?;
                    crate::nvr::media::open_segment(root, &e.path).ok()
                })
                .fold(0u64, |total, (_, size)| total.saturating_add(size));
            if let Err(e) = self.check_space(footage) {
                return Input::StepFailed(JobFailure::Io(e.to_string()));
            }
        }
        // Write-ahead: the ledger names the folder before it exists.
        if let Err(e) = self.record_folder(replay) {
            return Input::StepFailed(JobFailure::Io(e));
        }
        let prepared = ReplayFolder::create(&self.loaded.config.session.replay_dir, replay)
            .and_then(|folder| folder.clear_part().map(|()| folder))
            .and_then(|folder| write_private(&paths.list, &list).map(|()| folder));
        let folder = match prepared {
            Ok(folder) => folder,
            Err(e) => {
                return Input::StepFailed(JobFailure::Io(format!(
                    "cannot prepare the replay folder: {e}"
                )))
            }
        };
        // ffmpeg reaches the folder through the descriptor the daemon opened
        // (no path in the media tree is resolved: a swapped folder changes
        // nothing), and the file by name in a folder only replayd can write.
        // By name, so that a stop's unlink keeps ffmpeg's +faststart pass
        // from reopening a file that is thrown away anyway (it exits at once).
        let output = PathBuf::from(format!(
            "/proc/self/fd/{}/{}",
            folder.fd().as_raw_fd(),
            replay_folder::PART
        ));
        let args = clip::ffmpeg_args(&paths.list, &output);
        let program = self.loaded.config.ffmpeg.path.clone();
        let spawned = Child::spawn_with_fd(
            "ffmpeg",
            &program,
            &args,
            Priority::Background,
            Some(folder.fd()),
        );
        drop(folder);
        match spawned {
            Ok(child) => {
                let pid = child.pid();
                log::info!(
                    "clip job started for {replay}: ffmpeg [{pid}] on {} segments, {:.1}s expected",
                    plan.entries.len(),
                    plan.expected_duration
                );
                let record = child::process_start_time(pid)
                    .map(|start_ticks| ChildRecord { pid, start_ticks });
                self.child = Some(Running::ffmpeg(child));
                Input::ClipStarted { record }
            }
            Err(e) => Input::StepFailed(JobFailure::Io(format!(
                "cannot run ffmpeg ({}): {e}",
                program.display()
            ))),
        }
    }

    /// The clip's own header says how long it is; ffprobe (~80 ms of
    /// start-up) is only the fallback for a header we cannot read.
    pub(super) fn measure_clip(&mut self, replay: &str) -> Input {
        let part = self.clip_paths(replay).part;
        let opened = ReplayFolder::open_existing(&self.loaded.config.session.replay_dir, replay)
            .and_then(|folder| folder.open_file(replay_folder::PART));
        match opened.map_err(Mp4Error::from).and_then(mp4::duration) {
            Ok(duration) => return Input::ClipMeasured { duration },
            Err(e) => log::debug!(
                "cannot read the duration of {replay}'s clip itself ({e}): asking ffprobe"
            ),
        }
        let program = self.loaded.config.ffmpeg.ffprobe.clone();
        match Child::spawn(
            "ffprobe",
            &program,
            &clip::ffprobe_duration_args(&part),
            Priority::Normal,
        ) {
            Ok(child) => {
                self.child = Some(Running::ffprobe(child));
                Input::MeasureStarted
            }
            Err(e) => Input::StepFailed(JobFailure::Io(format!(
                "cannot run ffprobe ({}): {e}",
                program.display()
            ))),
        }
    }

    /// Removes the partial clip and the concat list.
    pub(super) fn discard_partial_clip(&self, replay: &str) {
        let paths = self.clip_paths(replay);
        match ReplayFolder::open(&self.loaded.config.session.replay_dir, replay) {
            Ok(Some(folder)) => {
                if let Err(e) = folder.remove(replay_folder::PART) {
                    log::warn!("cannot remove the partial clip of {replay}: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => log::warn!("cannot open the replay folder of {replay}: {e}"),
        }
        remove_quietly(&paths.list);
    }

    pub(super) fn camera_file(&self, replay: &str) -> PathBuf {
        self.loaded
            .config
            .runtime
            .dir
            .join("cameras")
            .join(format!("{replay}.yml"))
    }
}

pub(super) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

pub(super) fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// The concat list: private to the daemon and its ffmpeg, and rewritten
/// before every run, so no atomic replace is needed.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)?;
    file.write_all(bytes)
}
