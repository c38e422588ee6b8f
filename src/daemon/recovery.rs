//! Start-up: what a dead daemon left in session.json, for the lifecycle to
//! decide on; and the end of an ffmpeg it left running.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

use crate::replay::lifecycle::Recovered;
use crate::replay::link::Mode;
use crate::replay::session::ChildRecord;

use super::child::process_start_time;
use super::state_store::Loaded;
use super::Daemon;

impl Daemon {
    /// The state file as the lifecycle's input, with the facts it needs.
    pub(super) fn recovered(&self) -> Recovered {
        match self.store.load() {
            Loaded::Missing | Loaded::Current(None) => Recovered::Nothing,
            Loaded::OtherBoot => Recovered::OtherBoot,
            Loaded::Corrupt(reason) => Recovered::Corrupt(format!(
                "{} is unreadable ({reason})",
                self.store.path().display()
            )),
            Loaded::Current(Some(mut saved)) => {
                // Paths are derived from the (validated) name, never trusted.
                let replay = saved.session.replay_camera.clone();
                let input = self.input_path(&replay, saved.session.clip_mode);
                if saved.session.clip_path.is_some() {
                    saved.session.clip_path = Some(input.clone());
                }
                // A link-mode session resumes only with its playlist and
                // every link it names.
                let clip_exists = match saved.session.clip_mode {
                    Mode::Copy => input.is_file(),
                    Mode::Link => self.links_intact(&replay),
                };
                Recovered::Session { clip_exists, saved }
            }
        }
    }
}

/// Ends an ffmpeg a dead daemon left running, if it is still the same process.
pub(super) fn end_leftover(record: ChildRecord) {
    if process_start_time(record.pid) != Some(record.start_ticks) {
        return;
    }
    let Some(pid) = Pid::from_raw(record.pid as i32) else {
        return;
    };
    let Ok(pidfd) = pidfd_open(pid, PidfdFlags::empty()) else {
        return;
    };
    // The pidfd pins the process: the start time check still holds after it.
    if process_start_time(record.pid) != Some(record.start_ticks) {
        return;
    }
    log::warn!("ending ffmpeg [{}] left by the previous daemon", record.pid);
    let _ = pidfd_send_signal(&pidfd, Signal::KILL);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(Duration::from_secs(5)).unwrap_or(PollTimeout::NONE);
    if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
        log::error!("ffmpeg [{}] did not exit after SIGKILL", record.pid);
    }
}
