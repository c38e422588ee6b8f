//! crash recovery and boot cleanup (SPEC §2): what a dead daemon left is
//! resumed, restarted once, finished or cleaned.

use super::*;

impl Lifecycle {
    /// crash recovery: resume a ready session, restart an interrupted one
    /// once, finish an interrupted stop; everything else is boot cleanup.
    pub(super) fn recover(&mut self, recovered: Recovered, now: Now) {
        let (saved, clip_exists) = match recovered {
            Recovered::Nothing => return self.boot_cleanup(None, None),
            Recovered::OtherBoot => {
                self.log(
                    log::Level::Info,
                    "state file is from a previous boot: cleaning up".into(),
                );
                return self.boot_cleanup(None, None);
            }
            Recovered::Corrupt(why) => {
                self.log(
                    log::Level::Warn,
                    format!("state file {why}; kept as session.json.corrupt, cleaning up"),
                );
                return self.boot_cleanup(None, None);
            }
            Recovered::Session { saved, clip_exists } => (saved, clip_exists),
        };
        let PersistedSession {
            state,
            stopping,
            mut session,
        } = *saved;
        if let Some(record) = session.ffmpeg.take() {
            self.act(Action::KillLeftover(record));
        }
        let replay = session.replay_camera.clone();
        if stopping {
            self.log(
                log::Level::Info,
                format!("the daemon died while stopping {replay}: finishing the stop"),
            );
            return self.boot_cleanup(None, Some(replay));
        }
        match state {
            SessionState::Ready => {
                if !clip_exists {
                    self.log(
                        log::Level::Warn,
                        format!(
                            "session of {replay} was ready but its clip or links are gone: cleaning up"
                        ),
                    );
                    return self.boot_cleanup(None, Some(replay));
                }
                let source = session.source_camera.clone();
                let tuning = session.tuning();
                let mode = session.clip_mode;
                let detect_size = session.detect_size;
                self.phase = Phase::Recovering { session };
                self.boot_cleanup(Some(replay.clone()), None);
                self.act(Action::Republish {
                    source,
                    replay,
                    mode,
                    detect_size,
                    tuning,
                });
            }
            SessionState::PreparingClip | SessionState::StartingCamera => {
                if session.interruptions >= 1 {
                    self.log(
                        log::Level::Error,
                        format!(
                            "session of {replay} was interrupted twice while preparing: giving up"
                        ),
                    );
                    self.phase = Phase::PreparingClip {
                        session,
                        step: Preparing::Planning,
                    };
                    self.fail(JobFailure::InterruptedTwice, now);
                    return self.boot_cleanup(None, Some(replay));
                }
                session.interruptions += 1;
                session.published = false;
                session.clip_path = None;
                if session.clip_mode == Mode::Link {
                    session.linked_bytes = Some(0);
                }
                // A camera published just before the crash does not match a
                // session that starts over.
                self.act(Action::RemoveCameraFile {
                    replay: replay.clone(),
                });
                self.log(
                    log::Level::Warn,
                    format!(
                        "session of {replay} was interrupted while preparing: starting it over"
                    ),
                );
                self.phase = Phase::PreparingClip {
                    session: session.clone(),
                    step: Preparing::Planning,
                };
                self.progress = 0.0;
                self.emit_job(JobStatus::Running, None, now);
                self.boot_cleanup(Some(replay), None);
                self.act(Action::Replan { session });
            }
            SessionState::Idle => self.boot_cleanup(None, None),
        }
    }

    pub(super) fn replanned(&mut self, result: Result<ClipPlan, String>, now: Now) {
        if !matches!(
            self.phase,
            Phase::PreparingClip {
                step: Preparing::Planning,
                ..
            }
        ) {
            return;
        }
        match result {
            // Link mode starts over from the first link (existing names are
            // replaced).
            Ok(plan) => self.prepare(plan, now),
            Err(e) => self.fail(JobFailure::Replan(e), now),
        }
    }

    pub(super) fn republished(&mut self, result: Result<(), String>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::Recovering { mut session } = phase else {
            self.phase = phase;
            return;
        };
        let replay = session.replay_camera.clone();
        if let Err(e) = result {
            self.log(
                log::Level::Error,
                format!("cannot re-publish {replay}: {e}; cleaning up"),
            );
            return self.boot_cleanup(None, Some(replay));
        }
        self.log(
            log::Level::Info,
            format!(
                "resumed session of {replay} (source {}), auto-stop unchanged",
                session.source_camera
            ),
        );
        session.published = true;
        self.progress = 100.0;
        // status shows the last job: for a resumed session, its successful clip job.
        self.job = Some(session::job_state(
            &session,
            SessionState::Ready,
            JobStatus::Success,
            100.0,
            session.started_at,
            None,
            None,
        ));
        self.phase = Phase::Ready { session };
    }

    pub(super) fn boot_cleanup(&mut self, keep: Option<String>, also: Option<String>) {
        self.act(Action::BootCleanup { keep, also });
    }
}
