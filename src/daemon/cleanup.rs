//! Cleanup of a replay camera (SPEC §2): count what it produced, delete its
//! rows and files and its replay folder; and boot cleanup of every camera
//! the ledger names.

use std::collections::BTreeSet;

use crate::config::Publisher;
use crate::protocol::Summary;
use crate::replay::names;

use super::media_cleanup as cleanup;
use super::Daemon;

impl Daemon {
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
                summary.events_by_label = bounded_labels(c.events_by_label);
                summary.review_segments.alert = c.alerts;
                summary.review_segments.detection = c.detections;
            }
            Err(e) => log::warn!("cannot count what {replay} produced: {e}"),
        }
        summary
    }

    /// Deletes a replay camera's database rows, media files and replay
    /// folder. Returns (files removed, rows removed). Rows that cannot be
    /// deleted now (a locked database) stay owed in the ledger.
    pub(super) fn clean_camera(&mut self, replay: &str) -> (u64, u64) {
        if !names::is_replay_name(replay) {
            log::error!("refusing to clean {replay}: it has no replay prefix");
            return (0, 0);
        }
        if self.loaded.nvr.has_camera(replay) && !self.owns(replay) {
            log::warn!("not cleaning {replay}: the NVR config defines a camera of that name");
            return (0, 0);
        }
        let rows = match self.open_db().and_then(|db| db.delete_camera_rows(replay)) {
            Ok(rows) => {
                if self.ledger.rows_deleted(replay) {
                    let _ = self.save_ledger();
                }
                rows
            }
            Err(e) => {
                log::error!(
                    "cannot delete the database rows of {replay}: {e}; trying again in the background"
                );
                if self.ledger.owe_rows(replay).is_ok() {
                    let _ = self.save_ledger();
                }
                if self.rows_retry.is_none() {
                    self.schedule_rows_retry(super::clock::boottime());
                }
                0
            }
        };
        // Sparing the NVR's own cameras and the live session keeps
        // `_replay_front-2`'s snapshots when `_replay_front` is cleaned
        // (both match `_replay_front-<digit>…`). The camera itself was
        // proven replayd's above: the NVR config lists it too once Frigate
        // wrote it into config.yml and replayd re-read that file (after an
        // apply, a SIGHUP).
        let mut spare = self.loaded.nvr.camera_names();
        spare.retain(|name| name != replay);
        spare.extend(
            self.lifecycle
                .replay_camera()
                .filter(|live| *live != replay)
                .map(str::to_string),
        );
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
        files += self.remove_replay_folder(replay);
        (files, rows)
    }

    /// A camera whose owed removal the NVR confirmed: its rows and files go.
    pub(super) fn clean_stale(&mut self, replay: &str) {
        let (files, rows) = self.clean_camera(replay);
        log::info!(
            "boot cleanup: removed stale replay camera {replay} ({files} files, {rows} rows)"
        );
    }

    /// boot cleanup: every camera and folder the ledger names, and `also`,
    /// except `keep` (a session being resumed). Cameras published to Frigate
    /// are handed back: they are removed from the NVR first, their files
    /// once it confirmed.
    pub(super) fn boot_cleanup(&mut self, keep: Option<&str>, also: Option<String>) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.extend(self.ledger.cameras().iter().map(|c| c.name.clone()));
        names.extend(self.ledger.folders().iter().map(|f| f.camera.clone()));
        names.extend(self.ledger.rows_owed().iter().cloned());
        names.extend(also);
        let mut owed = Vec::new();
        for name in names.iter().filter(|n| Some(n.as_str()) != keep) {
            let entry = self.ledger.cameras().iter().find(|c| &c.name == name);
            if entry.is_some_and(|c| c.publisher == Publisher::Frigate) {
                log::info!("boot cleanup: {name} is removed from Frigate first");
                owed.push(name.clone());
                continue;
            }
            if entry.is_some() || self.camera_file(name).exists() {
                super::clip_job::remove_quietly(&self.camera_file(name));
                self.broadcast(&crate::protocol::Event::Camera {
                    action: crate::protocol::CameraAction::Remove,
                    camera: name.clone(),
                    config: None,
                    sections: None,
                });
                self.ledger_drop_camera(name);
            }
            let (files, rows) = self.clean_camera(name);
            log::info!(
                "boot cleanup: removed stale replay camera {name} ({files} files, {rows} rows)"
            );
        }
        owed
    }
}

/// The most frequent labels, at most [`MAX_LABELS`], the rest counted under
/// `"(other)"`: a summary must fit a status line (64 KiB) whatever labels a
/// detector made up (issue 10: ~2,300 labels broke `replayctl status`).
fn bounded_labels(
    labels: std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    if labels.len() <= MAX_LABELS {
        return labels;
    }
    let mut by_count: Vec<(String, u64)> = labels.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = by_count[MAX_LABELS..].iter().map(|(_, n)| n).sum();
    let mut kept: std::collections::BTreeMap<String, u64> =
        by_count.into_iter().take(MAX_LABELS).collect();
    *kept.entry("(other)".into()).or_insert(0) += rest;
    kept
}

const MAX_LABELS: usize = 100;

#[cfg(test)]
mod tests;
