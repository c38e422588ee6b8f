//! Start-up: pick up the session a dead daemon left, clean every stale
//! replay camera, all before READY=1.

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

use crate::protocol::{JobStatus, SessionState};
use crate::replay::camera::{self, REPLAY_PREFIX};
use crate::replay::cleanup;
use crate::replay::session::{job_state, ChildRecord, Session};

use super::child::process_start_time;
use super::state_store::Loaded;
use super::Daemon;

impl Daemon {
    pub(super) fn recover(&mut self) {
        let mut dropped = None;
        let kept = match self.store.load() {
            Loaded::Missing => None,
            Loaded::OtherBoot => {
                log::info!("state file is from a previous boot: cleaning up");
                None
            }
            Loaded::Corrupt(reason) => {
                log::warn!(
                    "state file {} is unreadable ({reason}); kept as session.json.corrupt, cleaning up",
                    self.store.path().display()
                );
                None
            }
            Loaded::Current(None) => None,
            Loaded::Current(Some(session)) => {
                let name = session.replay_camera.clone();
                let kept = self.resume(session);
                if kept.is_none() {
                    // Its rows may be all that is left of it: clean it by name.
                    dropped = Some(name);
                }
                kept
            }
        };
        self.boot_cleanup(kept.as_deref(), dropped);
        self.persist();
    }

    /// Resumes or re-prepares a session; returns its replay camera if it lives on.
    fn resume(&mut self, mut session: Session) -> Option<String> {
        if let Some(record) = session.ffmpeg.take() {
            end_leftover(record);
        }
        let replay = session.replay_camera.clone();
        if session.stopping {
            log::info!("the daemon died while stopping {replay}: finishing the stop");
            return None;
        }
        match session.state {
            SessionState::Ready => {
                let clip = session.clip_path.clone().filter(|p| p.is_file());
                let Some(clip) = clip else {
                    log::warn!("session of {replay} was ready but its clip is gone: cleaning up");
                    return None;
                };
                // Idempotent: the same camera file, whether or not it survived.
                if let Err(e) = self.write_camera_file(&session.source_camera, &replay, &clip) {
                    log::error!("cannot re-publish {replay}: {e}; cleaning up");
                    return None;
                }
                log::info!(
                    "resumed session of {replay} (source {}), auto-stop unchanged",
                    session.source_camera
                );
                session.published = true;
                self.progress = 100.0;
                // status shows the last job: for a resumed session, its successful clip job.
                self.job = Some(job_state(
                    &session,
                    JobStatus::Success,
                    100.0,
                    session.started_at,
                    None,
                    None,
                ));
                self.session = Some(session);
                Some(replay)
            }
            SessionState::PreparingClip | SessionState::StartingCamera => {
                if session.interruptions >= 1 {
                    log::error!(
                        "session of {replay} was interrupted twice while preparing: giving up"
                    );
                    self.session = Some(session);
                    self.fail_job(
                        "the daemon was interrupted twice while preparing the clip".into(),
                    );
                    return None;
                }
                session.interruptions += 1;
                // A camera published just before the crash does not match a
                // session that starts over.
                super::job::remove_quietly(&self.camera_file(&replay));
                session.state = SessionState::PreparingClip;
                session.published = false;
                session.clip_path = None;
                log::warn!("session of {replay} was interrupted while preparing: starting it over");
                let plan = self.plan_for(&session);
                self.session = Some(session);
                self.progress = 0.0;
                self.persist();
                self.emit_job(JobStatus::Running, None);
                match plan {
                    Ok(plan) => self.start_clip(plan, 0),
                    Err(e) => self.fail_job(format!("cannot restart the clip job: {e}")),
                }
                self.session.as_ref().map(|s| s.replay_camera.clone())
            }
            SessionState::Idle => None,
        }
    }

    /// Cleans every replay camera found on disk or published, except `keep`.
    fn boot_cleanup(&mut self, keep: Option<&str>, dropped: Option<String>) {
        let mut stale: BTreeSet<String> = match cleanup::stale_replay_cameras(self.media_dir()) {
            Ok(names) => names,
            Err(e) => {
                log::error!(
                    "cannot scan {} for stale replay cameras: {e}",
                    self.media_dir().display()
                );
                BTreeSet::new()
            }
        };
        stale.extend(dropped);
        let cameras_dir = self.loaded.config.runtime.dir.join("cameras");
        if let Ok(entries) = fs::read_dir(&cameras_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(camera) = name.strip_suffix(".yml") {
                    if camera.starts_with(REPLAY_PREFIX) && camera::is_valid_camera_name(camera) {
                        stale.insert(camera.to_string());
                    }
                }
            }
        }
        for name in stale.iter().filter(|n| Some(n.as_str()) != keep) {
            if self.loaded.nvr.has_camera(name) {
                log::info!(
                    "boot cleanup: keeping {name}: the NVR config defines a camera of that name"
                );
                continue;
            }
            let file = self.camera_file(name);
            if file.exists() {
                self.unpublish(name);
            }
            let (files, rows) = self.clean_camera(name);
            log::info!(
                "boot cleanup: removed stale replay camera {name} ({files} files, {rows} rows)"
            );
        }
    }
}

/// Ends an ffmpeg a dead daemon left running, if it is still the same process.
fn end_leftover(record: ChildRecord) {
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
