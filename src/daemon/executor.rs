//! The executor: feeds inputs to the lifecycle and carries out the actions it
//! returns, feeding their results back, until nothing is left to do. The
//! only place where the lifecycle meets IO.

use std::collections::VecDeque;

use crate::protocol;
use crate::replay::lifecycle::{Action, Input, Now, Reply};

use super::clip_job::remove_quietly;
use super::clock;
use super::recovery::end_leftover;
use super::Daemon;

impl Daemon {
    /// Runs `input` and everything that follows from it. Never re-entered:
    /// a client whose deferred reply went out has its next lines read after
    /// this returns, so no request can slip in between an action and its
    /// result.
    pub(super) fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let now = Now {
                wall: clock::wall(),
                boot: clock::boottime(),
            };
            for action in self.lifecycle.handle(input, now) {
                if let Some(result) = self.execute(action) {
                    queue.push_back(result);
                }
                queue.extend(self.inbox.drain(..));
            }
        }
    }

    /// Feeds what arrived outside the executor (NVR replies).
    pub(super) fn feed_inbox(&mut self) {
        let inputs: Vec<Input> = self.inbox.drain(..).collect();
        for input in inputs {
            self.feed(input);
        }
    }

    /// Carries out one action; returns the input its result makes, if any.
    /// Actions that open files get the reserved descriptors: whatever the
    /// clients hold, a cleanup or a spawn never fails for want of one.
    fn execute(&mut self, action: Action) -> Option<Input> {
        let needs_fds = matches!(
            action,
            Action::CheckStart { .. }
                | Action::CheckExport { .. }
                | Action::CheckFile { .. }
                | Action::SpawnClip { .. }
                | Action::LinkSegments { .. }
                | Action::WritePlaylist { .. }
                | Action::MeasureClip { .. }
                | Action::Publish { .. }
                | Action::Republish { .. }
                | Action::PublishUpdate(_)
                | Action::ApplyOverrides { .. }
                | Action::CleanUp { .. }
                | Action::CleanStale { .. }
                | Action::Replan { .. }
                | Action::BootCleanup { .. }
        );
        if !needs_fds {
            return self.perform(action);
        }
        self.reserve.clear();
        let result = self.perform(action);
        self.reserve = super::take_reserve();
        result
    }

    fn perform(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Reply { client, reply } => {
                let line = match reply {
                    Reply::Started(body) => protocol::encode_ok(&body),
                    Reply::Stopped(body) => protocol::encode_ok(&body),
                    Reply::Updated(body) => protocol::encode_ok(&body),
                    Reply::Applied(body) => protocol::encode_ok(&body),
                    Reply::Refused(error) => protocol::encode_error(&error.body()),
                };
                self.complete_reply(client, &line);
                None
            }
            Action::Persist(record) => {
                if let Err(e) = self.store.save(record.as_ref()) {
                    log::error!(
                        "cannot write {}: {e}; a restart would lose track of the session",
                        self.store.path().display()
                    );
                }
                None
            }
            Action::Emit(event) => {
                self.broadcast(&event);
                None
            }
            Action::Log { level, message } => {
                log::log!(level, "{message}");
                None
            }
            Action::CheckStart {
                client,
                camera,
                start,
                end,
                options,
            } => Some(Input::StartChecked {
                client,
                result: self.check_start(&camera, start, end, options),
            }),
            Action::CheckNvr {
                client,
                source,
                replay,
                remove_first,
            } => self.check_nvr(client, source, replay, remove_first),
            Action::CheckExport { export_id, options } => {
                Some(self.check_export(&export_id, &options))
            }
            Action::CheckFile {
                camera,
                path,
                options,
            } => Some(self.check_file(&camera, &path, &options)),
            Action::SpawnClip {
                replay,
                plan,
                check_space,
            } => Some(self.spawn_clip(&replay, &plan, check_space)),
            Action::LinkSegments { replay, plan, from } => {
                // Fed on the loop's next turn: a stop between two batches
                // is served at once.
                let input = self.link_segments(&replay, &plan, from);
                self.later.push(input);
                None
            }
            Action::WritePlaylist {
                replay,
                plan,
                skipped,
            } => Some(self.write_playlist(&replay, &plan, &skipped)),
            Action::MeasureClip { replay } => Some(self.measure_clip(&replay)),
            Action::Terminate => {
                if let Some(running) = self.child.as_mut() {
                    running.child.terminate();
                }
                None
            }
            Action::Kill => {
                if let Some(running) = self.child.as_mut() {
                    running.child.kill();
                }
                None
            }
            Action::KillAndReap => {
                if let Some(mut running) = self.child.take() {
                    let why = if self.terminating {
                        "before exit"
                    } else {
                        "the job is over"
                    };
                    log::info!(
                        "ending {} [{}] {why}",
                        running.child.name(),
                        running.child.pid()
                    );
                    running.child.kill();
                    running.child.wait_blocking();
                }
                None
            }
            Action::DiscardPartial { replay } => {
                self.discard_partial_clip(&replay);
                None
            }
            Action::RemoveClip { replay } => {
                self.remove_replay_folder(&replay);
                None
            }
            Action::Publish {
                source,
                replay,
                mode,
                detect_size,
                tuning,
            } => self.publish(&source, &replay, mode, detect_size, &tuning),
            Action::Republish {
                source,
                replay,
                mode,
                detect_size,
                tuning,
            } => self.republish(&source, &replay, mode, detect_size, &tuning),
            Action::PublishUpdate(request) => self.publish_update(request),
            Action::ApplyOverrides {
                client,
                source,
                overrides,
                sections,
            } => self.apply_overrides(client, &source, &overrides, &sections),
            Action::Unpublish { replay } => self.unpublish(&replay),
            Action::CleanStale { replay } => {
                self.clean_stale(&replay);
                None
            }
            Action::Forget { replay } => {
                self.ledger_drop_camera(&replay);
                None
            }
            Action::RemoveCameraFile { replay } => {
                remove_quietly(&self.camera_file(&replay));
                None
            }
            Action::CleanUp { replay } => Some(Input::Cleaned {
                summary: self.clean_up(&replay),
            }),
            Action::Replan { session } => Some(Input::Replanned {
                result: self.replan(&session),
            }),
            Action::KillLeftover(record) => {
                end_leftover(record);
                None
            }
            Action::BootCleanup { keep, also } => Some(Input::BootCleaned {
                owed: self.boot_cleanup(keep.as_deref(), also),
            }),
        }
    }

    /// The child's stdout: progress for ffmpeg, the answer for ffprobe.
    pub(super) fn on_child_stdout(&mut self) {
        let updates = match self.child.as_mut() {
            Some(running) => running.read_stdout(),
            None => return,
        };
        for update in updates {
            self.feed(Input::Progress(update));
        }
    }

    pub(super) fn on_child_exit(&mut self) {
        let status = match self.child.as_mut().map(|r| r.child.try_reap()) {
            None | Some(Ok(None)) => return,
            Some(Ok(Some(status))) => status,
            Some(Err(e)) => {
                log::error!("cannot reap child: {e}");
                return;
            }
        };
        // The pipes may still hold the last progress block or probe output.
        self.on_child_stdout();
        if let Some(running) = self.child.take() {
            self.feed(Input::ChildExited(running.exit(status)));
        }
    }
}
