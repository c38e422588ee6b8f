//! preparing_clip (SPEC §2): the footage made ready — ffmpeg cuts a clip, or
//! the segments are linked — measured, rebuilt without a bad segment, or
//! failed.

use super::*;

impl Lifecycle {
    /// The footage of `plan` is made ready in the session's clip mode.
    pub(super) fn prepare(&mut self, plan: ClipPlan, now: Now) {
        match self.session().map(|s| s.clip_mode) {
            Some(Mode::Link) => self.link(plan, now),
            Some(Mode::Copy) => self.cut(plan, 0, false, now),
            None => {}
        }
    }

    /// link mode: the segments are linked from the first, in batches.
    pub(super) fn link(&mut self, plan: ClipPlan, now: Now) {
        if plan.entries.is_empty() {
            return self.fail(JobFailure::NoUsableSegments, now);
        }
        let Phase::PreparingClip { session, step } = &mut self.phase else {
            return;
        };
        let replay = session.replay_camera.clone();
        session.linked_bytes = Some(0);
        *step = Preparing::Linking {
            plan: plan.clone(),
            done: 0,
            skipped: Vec::new(),
        };
        self.act(Action::LinkSegments {
            replay,
            plan,
            from: 0,
        });
    }

    /// A batch is linked: progress counts segments (throttled like
    /// ffmpeg's); the next batch, or the playlist once all are linked.
    pub(super) fn linked(&mut self, upto: usize, bytes: u64, gone: Vec<(usize, String)>, now: Now) {
        let Phase::PreparingClip {
            session,
            step:
                Preparing::Linking {
                    plan,
                    done,
                    skipped,
                },
        } = &mut self.phase
        else {
            return;
        };
        let total = plan.entries.len();
        *done = upto.clamp(*done, total);
        session.linked_bytes = Some(session.linked_bytes.unwrap_or(0).saturating_add(bytes));
        let mut warnings = Vec::new();
        for (index, warning) in gone {
            if index < total && !skipped.contains(&index) {
                skipped.push(index);
                session.warnings.push(warning.clone());
                warnings.push(warning);
            }
        }
        let all_gone = skipped.len() >= total;
        let (done, replay) = (*done, session.replay_camera.clone());
        let next = if done < total {
            Action::LinkSegments {
                replay,
                plan: plan.clone(),
                from: done,
            }
        } else {
            Action::WritePlaylist {
                replay,
                plan: plan.clone(),
                skipped: skipped.clone(),
            }
        };
        for warning in warnings {
            self.log(log::Level::Warn, warning);
        }
        if all_gone && done >= total {
            return self.fail(JobFailure::NoUsableSegments, now);
        }
        self.progress = done as f64 / total as f64 * 100.0;
        if self
            .throttle
            .should_emit(now.boot, SessionState::PreparingClip)
        {
            self.emit_job(JobStatus::Running, None, now);
        }
        self.act(next);
    }

    /// A link was refused at run time (another file system, or
    /// `fs.protected_hardlinks`, found after the check): `auto` removes
    /// what was linked and copies instead, saying why; `link` fails.
    pub(super) fn link_refused(&mut self, reason: String, now: Now) {
        let Phase::PreparingClip {
            session,
            step: Preparing::Linking { plan, skipped, .. },
        } = &mut self.phase
        else {
            return;
        };
        if session.link_forced {
            return self.fail(JobFailure::Link(reason), now);
        }
        // What was found gone while linking is not copied either.
        let mut gone = skipped.clone();
        gone.sort_unstable_by(|a, b| b.cmp(a));
        let plan = gone.into_iter().fold(plan.clone(), |plan, index| {
            clip::without_entry(&plan, index)
        });
        let replay = session.replay_camera.clone();
        session.clip_mode = Mode::Copy;
        session.linked_bytes = None;
        session.warnings.push(link::fallback_warning(&reason));
        session.clip_mode_reason = Some(reason.clone());
        self.log(
            log::Level::Warn,
            format!("{replay}: a link was refused ({reason}): copying the footage instead"),
        );
        self.act(Action::RemoveClip { replay });
        self.progress = 0.0;
        self.cut(plan, 0, true, now);
    }

    /// The playlist is in place: the camera is published on it.
    pub(super) fn playlist_written(&mut self, now: Now) {
        let Phase::PreparingClip {
            session,
            step: Preparing::Linking { plan, done, .. },
        } = &self.phase
        else {
            return;
        };
        if *done < plan.entries.len() {
            return;
        }
        let message = format!(
            "links ready: {} segments, {:.2}s, {} bytes linked for {:.2}s requested",
            plan.entries.len(),
            plan.expected_duration,
            session.linked_bytes.unwrap_or(0),
            session.range()
        );
        self.log(log::Level::Info, message);
        self.progress = 100.0;
        self.start_camera(now);
    }

    /// Starts (or restarts, after a bad segment) ffmpeg on `plan`.
    pub(super) fn cut(&mut self, plan: ClipPlan, rebuilds: u32, check_space: bool, now: Now) {
        if plan.entries.is_empty() {
            return self.fail(JobFailure::NoUsableSegments, now);
        }
        let Phase::PreparingClip { session, step } = &mut self.phase else {
            return;
        };
        let replay = session.replay_camera.clone();
        *step = Preparing::Cutting {
            plan: plan.clone(),
            rebuilds,
            child: ChildWatch::new("ffmpeg", now),
        };
        self.act(Action::SpawnClip {
            replay,
            plan,
            check_space,
        });
    }

    pub(super) fn clip_started(&mut self, record: Option<ChildRecord>) {
        if let Phase::PreparingClip {
            session,
            step: Preparing::Cutting { .. },
        } = &mut self.phase
        {
            session.ffmpeg = record;
        }
    }

    pub(super) fn measure_started(&mut self, now: Now) {
        if let Phase::PreparingClip {
            step: Preparing::Measuring { probe, .. },
            ..
        } = &mut self.phase
        {
            *probe = Some(ChildWatch::new("ffprobe", now));
        }
    }

    pub(super) fn step_failed(&mut self, failure: JobFailure, now: Now) {
        match &self.phase {
            Phase::PreparingClip { .. } | Phase::StartingCamera { .. } => self.fail(failure, now),
            // The stop goes on: there is no child to wait for.
            Phase::Stopping { .. } => {
                if let Phase::Stopping { child, .. } = &mut self.phase {
                    *child = None;
                }
                self.finish_stop(now);
            }
            _ => {}
        }
    }

    /// ffmpeg's `-progress`: percent of the range, throttled to one event a
    /// second plus every step change. Output time that advances keeps the
    /// stall check away.
    pub(super) fn progress(&mut self, update: ProgressUpdate, now: Now) {
        let Phase::PreparingClip {
            session,
            step: Preparing::Cutting { child, .. },
        } = &mut self.phase
        else {
            return;
        };
        let advanced = match update {
            ProgressUpdate::OutTime(t) => t > child.last_out_time,
            ProgressUpdate::End => true,
        };
        if advanced {
            child.alive_at = now.boot;
            if let ProgressUpdate::OutTime(t) = update {
                child.last_out_time = t;
            }
        }
        let percent = match update {
            ProgressUpdate::OutTime(t) => clip::percent(t, session.range()),
            ProgressUpdate::End => 100.0,
        };
        self.progress = percent;
        if self
            .throttle
            .should_emit(now.boot, SessionState::PreparingClip)
        {
            self.emit_job(JobStatus::Running, None, now);
        }
    }

    pub(super) fn child_exited(&mut self, exit: ChildExit, now: Now) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        match phase {
            Phase::CheckingExport {
                client,
                export: Some(probed),
                probe: Some(probe),
                options,
                clip_mode,
            } => {
                if let Some(failure) = probe.failure {
                    self.phase = Phase::Idle;
                    return self.refuse(
                        client,
                        RequestErrorKind::InvalidParams(format!(
                            "cannot read the duration of {} ({failure}): {}",
                            probed.describe(),
                            exit.stderr_tail
                        )),
                    );
                }
                self.source_probed(client, probed, exit, options, clip_mode);
            }
            Phase::PreparingClip {
                mut session,
                step:
                    Preparing::Cutting {
                        plan,
                        rebuilds,
                        child,
                    },
            } => {
                session.ffmpeg = None;
                self.phase = Phase::PreparingClip {
                    session,
                    step: Preparing::Measuring {
                        plan,
                        rebuilds,
                        probe: None,
                    },
                };
                self.clip_cut(child, exit, now);
            }
            Phase::PreparingClip {
                session,
                step:
                    Preparing::Measuring {
                        plan,
                        rebuilds,
                        probe: Some(probe),
                    },
            } => {
                self.phase = Phase::PreparingClip {
                    session,
                    step: Preparing::Measuring {
                        plan,
                        rebuilds,
                        probe: None,
                    },
                };
                let duration = std::str::from_utf8(&exit.stdout)
                    .ok()
                    .and_then(clip::parse_probe_duration);
                match (probe.failure, duration) {
                    (Some(failure), _) => {
                        let failure = with_stderr(failure, &exit.stderr_tail);
                        self.fail(failure, now)
                    }
                    (None, Some(d)) if exit.success => self.clip_measured(d, now),
                    (None, _) => self.fail(
                        JobFailure::ClipUnreadable {
                            status: exit.status,
                            stderr: exit.stderr_tail,
                        },
                        now,
                    ),
                }
            }
            Phase::Stopping {
                session,
                waiters,
                child: Some(child),
                job_in_flight,
                stopped_in,
                unpublishing,
                warnings,
            } => {
                self.log(
                    log::Level::Info,
                    format!(
                        "{} of {} ended for stop ({})",
                        child.program, session.replay_camera, exit.status
                    ),
                );
                self.phase = Phase::Stopping {
                    session,
                    waiters,
                    child: None,
                    job_in_flight,
                    stopped_in,
                    unpublishing,
                    warnings,
                };
                self.finish_stop(now);
            }
            other => self.phase = other,
        }
    }

    /// ffmpeg is done: its exit status alone proves nothing, the clip is
    /// measured next.
    pub(super) fn clip_cut(&mut self, child: ChildWatch, exit: ChildExit, now: Now) {
        if let Some(failure) = child.failure {
            return self.fail(with_stderr(failure, &exit.stderr_tail), now);
        }
        if !exit.success {
            return self.fail(
                JobFailure::FfmpegFailed {
                    status: exit.status,
                    stderr: exit.stderr_tail,
                },
                now,
            );
        }
        if let Some(replay) = self.replay_camera().map(str::to_string) {
            self.act(Action::MeasureClip { replay });
        }
    }

    /// A clip that ended early at a bad segment is rebuilt without it, never
    /// published truncated.
    pub(super) fn clip_measured(&mut self, duration: f64, now: Now) {
        let Phase::PreparingClip {
            step: Preparing::Measuring { plan, rebuilds, .. },
            ..
        } = &self.phase
        else {
            return;
        };
        let (plan, rebuilds) = (plan.clone(), *rebuilds);
        match judge_clip(&plan, duration, rebuilds) {
            ClipVerdict::Good => {
                let range = self.session().map_or(0.0, Session::range);
                self.log(
                    log::Level::Info,
                    format!("clip ready: {duration:.2}s for {range:.2}s requested"),
                );
                self.start_camera(now);
            }
            ClipVerdict::Rebuild(bad) => {
                let segment = plan.entries[bad].path.display().to_string();
                self.log(
                    log::Level::Warn,
                    format!(
                        "clip ended early at {duration:.1}s of {:.1}s, at segment {segment}: rebuilding without it",
                        plan.expected_duration
                    ),
                );
                self.cut(clip::without_entry(&plan, bad), rebuilds + 1, false, now);
            }
            ClipVerdict::Fail(bad) => {
                let segment = plan.entries[bad].path.display().to_string();
                self.fail(
                    JobFailure::Truncated {
                        duration,
                        expected: plan.expected_duration,
                        segment,
                    },
                    now,
                );
            }
        }
    }
}
