//! Cleanup of a replay camera (SPEC §2): unpublish, count what it produced,
//! delete its rows and files; and boot cleanup of every stale one.

use std::collections::BTreeSet;
use std::fs;

use super::media_cleanup as cleanup;
use crate::protocol::{CameraAction, Event, Summary};
use crate::replay::names;

use super::clip_job::remove_quietly;
use super::Daemon;

impl Daemon {
    /// `camera remove`, then the published file goes.
    pub(super) fn unpublish(&mut self, replay: &str) {
        self.broadcast(&Event::Camera {
            action: CameraAction::Remove,
            camera: replay.to_string(),
            config: None,
        });
        remove_quietly(&self.camera_file(replay));
    }

    /// What the replay produced, read before anything is deleted, then the
    /// deletion; the lifecycle adds the duration.
    pub(super) fn clean_up(&mut self, replay: &str) -> Summary {
        let mut summary = self.summarize(replay);
        let (files, rows) = self.clean_camera(replay);
        summary.files_removed = files;
        summary.rows_removed = rows;
        summary
    }

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
    fn clean_camera(&mut self, replay: &str) -> (u64, u64) {
        if !names::is_replay_name(replay) {
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

    /// boot cleanup: every replay camera found on disk or published, and
    /// `also`, except `keep` (a session being resumed).
    pub(super) fn boot_cleanup(&mut self, keep: Option<&str>, also: Option<String>) {
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
        stale.extend(also);
        let cameras_dir = self.loaded.config.runtime.dir.join("cameras");
        if let Ok(entries) = fs::read_dir(&cameras_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(camera) = name.strip_suffix(".yml") {
                    if names::is_replay_name(camera) {
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
