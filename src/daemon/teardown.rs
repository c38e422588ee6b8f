//! Stop and cleanup: cancel the job, unpublish, delete the replay camera's
//! rows and files, report what it produced.

use std::fs;

use crate::protocol::{self, CameraAction, Event, JobStatus, StopReply, Summary};
use crate::replay::camera::REPLAY_PREFIX;
use crate::replay::cleanup;
use crate::replay::session;

use super::clock;
use super::job::{remove_quietly, Work};
use super::Daemon;

impl Daemon {
    /// Starts a stop; `waiter` (if any) gets the summary once cleanup is done.
    pub(super) fn begin_stop(&mut self, waiter: Option<u64>) {
        if let Some(waiters) = self.stop_waiters.as_mut() {
            waiters.extend(waiter);
            return;
        }
        self.stop_waiters = Some(waiter.into_iter().collect());
        if let Some(s) = self.session.as_mut() {
            s.stopping = true;
        }
        self.persist();
        if let Some(s) = &self.session {
            log::info!(
                "stopping session of {} (source {}, state {})",
                s.replay_camera,
                s.source_camera,
                s.state.as_str()
            );
        }
        if self.work.child().is_some() {
            // The partial clip is discarded anyway: unlinked first, ffmpeg's
            // +faststart pass cannot reopen it and exits at once instead of
            // rewriting the whole file first (docs/performance.md, stop latency).
            if matches!(self.work, Work::Clip(_)) {
                self.discard_partial_clip();
            }
            // One SIGTERM, SIGKILL after kill_grace; the pidfd tells us when it is gone.
            let grace = self.loaded.config.ffmpeg.kill_grace.as_secs_f64();
            self.work.terminate(clock::boottime(), grace);
        } else {
            self.finish_stop();
        }
    }

    /// Runs once no child is left.
    pub(super) fn finish_stop(&mut self) {
        let waiters = self.stop_waiters.take().unwrap_or_default();
        let Some(session) = self.session.clone() else {
            return;
        };
        let replay = session.replay_camera.clone();
        let job_in_flight = self
            .job
            .as_ref()
            .is_some_and(|j| j.id == session.job_id && !j.status.is_terminal());
        if job_in_flight {
            self.emit_job(JobStatus::Cancelled, None);
        }
        self.discard_partial_clip();
        if session.published {
            self.unpublish(&replay);
        }
        let mut summary = self.summarize(&replay);
        summary.duration_s = (clock::wall() - session.started_at).max(0.0);
        let (files, rows) = self.clean_camera(&replay);
        summary.files_removed = files;
        summary.rows_removed = rows;
        let stopped = session::stopped_job(&session.source_camera, &replay, clock::wall());
        self.job = Some(stopped.clone());
        self.broadcast(&Event::JobState { job: stopped });
        log::info!(
            "session of {replay} stopped: {:.0}s, {} events {:?}, review {} alerts / {} detections, {} files and {} rows removed",
            summary.duration_s,
            summary.events,
            summary.events_by_label,
            summary.review_segments.alert,
            summary.review_segments.detection,
            summary.files_removed,
            summary.rows_removed
        );
        self.broadcast(&Event::Summary {
            summary: summary.clone(),
        });
        self.last_summary = Some(summary.clone());
        self.session = None;
        self.progress = 0.0;
        self.persist();
        let line = protocol::encode_ok(&StopReply { summary });
        for id in waiters {
            self.complete_reply(id, &line);
        }
    }

    /// `camera remove`, then the published file goes.
    pub(super) fn unpublish(&mut self, replay: &str) {
        self.broadcast(&Event::Camera {
            action: CameraAction::Remove,
            camera: replay.to_string(),
            config: None,
        });
        remove_quietly(&self.camera_file(replay));
    }

    /// What the replay produced, read before cleanup deletes it.
    fn summarize(&self, replay: &str) -> Summary {
        let mut summary = Summary {
            replay_camera: replay.to_string(),
            ..Summary::default()
        };
        let counts = self.open_db().and_then(|db| db.replay_counts(replay));
        match counts {
            Ok(c) => {
                summary.events = c.events;
                summary.events_by_label = c.events_by_label;
                summary.review_segments.alert = c.alerts;
                summary.review_segments.detection = c.detections;
            }
            Err(e) => log::warn!("cannot count what {replay} produced: {e}"),
        }
        summary
    }

    /// Deletes a replay camera's database rows, media files and clip.
    /// Returns (files removed, rows removed).
    pub(super) fn clean_camera(&mut self, replay: &str) -> (u64, u64) {
        if !replay.starts_with(REPLAY_PREFIX) {
            log::error!("refusing to clean {replay}: it has no replay prefix");
            return (0, 0);
        }
        if self.loaded.nvr.has_camera(replay) {
            log::warn!("not cleaning {replay}: the NVR config defines a camera of that name");
            return (0, 0);
        }
        let rows = match self.open_db().and_then(|db| db.delete_camera_rows(replay)) {
            Ok(rows) => rows,
            Err(e) => {
                log::error!("cannot delete the database rows of {replay}: {e}");
                0
            }
        };
        // Sparing the NVR's own cameras keeps `_replay_front-2`'s snapshots when
        // `_replay_front` is cleaned (both match `_replay_front-<digit>…`).
        let spare = self.loaded.nvr.camera_names();
        let mut files = match cleanup::remove_camera_files_sparing(self.media_dir(), replay, &spare)
        {
            Ok(removal) => {
                for (path, e) in &removal.failures {
                    log::warn!("cannot remove {} of {replay}: {e}", path.display());
                }
                removal.files
            }
            Err(e) => {
                log::error!("cannot remove the media files of {replay}: {e}");
                0
            }
        };
        let paths = self.clip_paths(replay);
        for path in [&paths.clip, &paths.part] {
            if fs::remove_file(path).is_ok() {
                files += 1;
            }
        }
        remove_quietly(&paths.list);
        let _ = fs::remove_dir(&paths.dir);
        (files, rows)
    }
}
