//! stop and auto-stop (SPEC §2): the job cancelled, the camera unpublished
//! (or its removal owed and retried), rows and files cleaned, the clients
//! answered.

use super::*;

impl Lifecycle {
    /// stop: cancel the job (SIGTERM, SIGKILL after the grace), then clean up
    /// and answer every client that asked. `client` is `None` for auto-stop.
    pub(super) fn stop(&mut self, client: Option<ClientId>, now: Now) {
        if let Phase::Stopping { waiters, .. } = &mut self.phase {
            waiters.extend(client);
            return;
        }
        let state = self.state();
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let (session, child, cutting) = match phase {
            Phase::PreparingClip { session, step } => {
                let (child, cutting) = match step {
                    Preparing::Cutting { child, .. } => (Some(child), true),
                    Preparing::Measuring { probe, .. } => (probe, false),
                    Preparing::Linking { .. } | Preparing::Planning => (None, false),
                };
                (session, child, cutting)
            }
            Phase::StartingCamera { session } | Phase::Ready { session } => (session, None, false),
            other => {
                self.phase = other;
                if let Some(client) = client {
                    self.refuse(client, RequestErrorKind::NotActive);
                }
                return;
            }
        };
        let job_in_flight = self
            .job
            .as_ref()
            .is_some_and(|j| j.id == session.job_id && !j.status.is_terminal());
        self.log(
            log::Level::Info,
            format!(
                "stopping session of {} (source {}, state {})",
                session.replay_camera,
                session.source_camera,
                state.as_str()
            ),
        );
        let replay = session.replay_camera.clone();
        let child = child.map(|mut c| {
            c.term_sent = true;
            c.kill_at = Some(now.boot + self.settings.kill_grace);
            c
        });
        let ending_child = child.is_some();
        self.phase = Phase::Stopping {
            session,
            waiters: client.into_iter().collect(),
            child,
            job_in_flight,
            stopped_in: state,
            unpublishing: false,
            warnings: Vec::new(),
        };
        if ending_child {
            // The partial clip is discarded anyway: unlinked first, ffmpeg's
            // +faststart pass cannot reopen it and exits at once instead of
            // rewriting the whole file first.
            if cutting {
                self.act(Action::DiscardPartial { replay });
            }
            // One SIGTERM (a second makes ffmpeg leave its file unfinished).
            self.act(Action::Terminate);
        } else {
            self.finish_stop(now);
        }
    }

    /// Runs once no child is left: cancel, unpublish, count, clean.
    pub(super) fn finish_stop(&mut self, now: Now) {
        let Phase::Stopping {
            session,
            job_in_flight,
            ..
        } = &self.phase
        else {
            return;
        };
        let (session, job_in_flight) = (session.clone(), *job_in_flight);
        if job_in_flight {
            // A job cancelled mid-way first emits its own state under its id.
            self.emit_job(JobStatus::Cancelled, None, now);
        }
        let replay = session.replay_camera.clone();
        self.act(Action::DiscardPartial {
            replay: replay.clone(),
        });
        if session.published {
            if let Phase::Stopping { unpublishing, .. } = &mut self.phase {
                *unpublishing = true;
            }
            // The NVR first: rows and files go once it stopped using them.
            self.act(Action::Unpublish { replay });
        } else {
            self.act(Action::CleanUp { replay });
        }
    }

    /// The NVR confirmed a removal, or could not be reached for it.
    pub(super) fn unpublished(
        &mut self,
        replay: String,
        result: Result<Removal, String>,
        now: Now,
    ) {
        if let Phase::Stopping {
            session,
            unpublishing: unpublishing @ true,
            warnings,
            ..
        } = &mut self.phase
        {
            if session.replay_camera == replay {
                *unpublishing = false;
                if let Err(why) = &result {
                    warnings.push(format!(
                        "{replay} could not be removed from the NVR ({why}); replayd retries until the NVR confirms"
                    ));
                }
                match result {
                    // It just failed: the next try in a second, not now.
                    Err(_) => self.owe_removals(
                        vec![replay.clone()],
                        false,
                        now.boot + RETRY_FIRST,
                        0.0,
                        now,
                    ),
                    // The camera was confirmed added: absent is final.
                    Ok(Removal::Absent) => self.act(Action::Forget {
                        replay: replay.clone(),
                    }),
                    Ok(Removal::Removed) => {}
                }
                self.act(Action::CleanUp { replay });
                return;
            }
        }
        let Some(index) = self.pending.iter().position(|p| p.replay == replay) else {
            match result {
                Err(_) => self.owe_removals(vec![replay], false, now.boot + RETRY_FIRST, 0.0, now),
                Ok(Removal::Absent) => self.act(Action::Forget { replay }),
                Ok(Removal::Removed) => {}
            }
            return;
        };
        match result {
            Ok(Removal::Absent) if now.boot < self.pending[index].absent_final_at => {
                // Not there yet, maybe: an add that timed out may still land.
                let pending = &mut self.pending[index];
                pending.in_flight = false;
                pending.next_at = (now.boot + pending.backoff).min(pending.absent_final_at);
                pending.backoff = (pending.backoff * 2.0).min(RETRY_MAX);
            }
            Ok(how) => {
                let done = self.pending.remove(index);
                self.log(log::Level::Info, format!("{replay} removed from the NVR"));
                if how == Removal::Absent {
                    self.act(Action::Forget {
                        replay: replay.clone(),
                    });
                }
                if done.clean_after {
                    self.act(Action::CleanStale { replay });
                }
            }
            Err(why) => {
                let pending = &mut self.pending[index];
                pending.in_flight = false;
                pending.next_at = now.boot + pending.backoff;
                let wait = pending.backoff;
                pending.backoff = (pending.backoff * 2.0).min(RETRY_MAX);
                self.log(
                    log::Level::Warn,
                    format!("{replay} could not be removed from the NVR ({why}): next try in {wait:.0}s"),
                );
            }
        }
    }

    /// Removals the NVR still owes: first tried at `first_at` (boot time),
    /// then with back-off; "absent" is final from `absent_final_at` on.
    pub(super) fn owe_removals(
        &mut self,
        replays: Vec<String>,
        clean_after: bool,
        first_at: f64,
        absent_final_at: f64,
        now: Now,
    ) {
        for replay in replays {
            if let Some(p) = self.pending.iter_mut().find(|p| p.replay == replay) {
                p.clean_after |= clean_after;
                p.absent_final_at = p.absent_final_at.max(absent_final_at);
                continue;
            }
            let backoff = if first_at > now.boot {
                RETRY_FIRST * 2.0
            } else {
                RETRY_FIRST
            };
            self.pending.push(PendingRemoval {
                replay,
                next_at: first_at,
                backoff,
                in_flight: false,
                clean_after,
                absent_final_at,
            });
        }
        self.retry_removals(now);
    }

    /// When an add whose outcome is unknown can be taken as not applied if
    /// the NVR still does not have the camera: three request timeouts on.
    pub(super) fn unknown_add_settles(&self, now: Now) -> f64 {
        now.boot + 3.0 * self.settings.nvr_timeout
    }

    pub(super) fn retry_removals(&mut self, now: Now) {
        let due: Vec<String> = self
            .pending
            .iter_mut()
            .filter(|p| !p.in_flight && now.boot >= p.next_at)
            .map(|p| {
                p.in_flight = true;
                p.replay.clone()
            })
            .collect();
        for replay in due {
            self.act(Action::Unpublish { replay });
        }
    }

    pub(super) fn cleaned(&mut self, mut summary: Summary, now: Now) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let Phase::Stopping {
            session,
            waiters,
            warnings,
            ..
        } = phase
        else {
            self.phase = phase;
            return;
        };
        summary.duration_s = (now.wall - session.started_at).max(0.0);
        summary.overrides = session.overrides.clone();
        let stopped =
            session::stopped_job(&session.source_camera, &session.replay_camera, now.wall);
        self.job = Some(stopped.clone());
        self.act(Action::Emit(Event::JobState { job: stopped }));
        self.log(
            log::Level::Info,
            format!(
                "session of {} stopped: {:.0}s, {} events {:?}, review {} alerts / {} detections, {} files and {} rows removed",
                session.replay_camera,
                summary.duration_s,
                summary.events,
                summary.events_by_label,
                summary.review_segments.alert,
                summary.review_segments.detection,
                summary.files_removed,
                summary.rows_removed
            ),
        );
        self.act(Action::Emit(Event::Summary {
            summary: summary.clone(),
        }));
        self.last_summary = Some(summary.clone());
        self.progress = 0.0;
        self.flush_persist();
        for client in waiters {
            self.reply(
                client,
                Reply::Stopped(StopReply {
                    summary: summary.clone(),
                    warnings: warnings.clone(),
                }),
            );
        }
    }

    /// The timer: a child past its deadline, or the auto-stop.
    pub(super) fn timer(&mut self, now: Now) {
        let stall = self.settings.stall_timeout;
        let grace = self.settings.kill_grace;
        let mut kill = None;
        let mut stalled = None;
        if let Some(child) = self.child_mut() {
            match child.kill_at {
                Some(kill_at) if now.boot >= kill_at => {
                    // The pidfd reports the exit; no further wake-ups needed.
                    child.kill_at = None;
                    kill = Some(child.program);
                }
                None if !child.term_sent && now.boot >= child.alive_at + stall => {
                    let failure = JobFailure::Stalled {
                        program: child.program,
                        secs: stall,
                        stderr: String::new(),
                    };
                    child.term_sent = true;
                    child.kill_at = Some(now.boot + grace);
                    child.failure = Some(failure.clone());
                    stalled = Some(failure);
                }
                _ => {}
            }
        }
        if let Some(program) = kill {
            self.log(
                log::Level::Warn,
                format!("{program} ignored SIGTERM for {grace}s: killing it"),
            );
            self.act(Action::Kill);
        }
        if let Some(failure) = stalled {
            self.log(log::Level::Error, format!("{failure}: stopping it"));
            self.act(Action::Terminate);
        }
        self.retry_removals(now);
        let due = match &self.phase {
            Phase::PreparingClip { session, .. }
            | Phase::StartingCamera { session }
            | Phase::Ready { session } => now.boot >= session.deadline,
            _ => false,
        };
        if due {
            if let Some(s) = self.session() {
                let message = format!(
                    "auto-stop: session of {} (source {}) reached session.max_duration",
                    s.replay_camera, s.source_camera
                );
                self.log(log::Level::Info, message);
            }
            self.stop(None, now);
        }
    }
}
