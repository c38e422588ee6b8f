//! The tuning loop's shell (SPEC §2 "update", "apply"): a live update of the
//! replay camera and writing the overrides into the source camera, through
//! the configured publisher.
//!
//! An update is judged whole before anything moves: the new overrides,
//! the rebuilt camera and its validation; a refusal changes nothing. The
//! file publisher then rewrites the camera file and sends `camera update`
//! at once; the Frigate publisher does so only once Frigate took the change
//! ([`Daemon::take_nvr_results`]), so a change Frigate refuses leaves the
//! file and the subscribers where they were.

use serde_json::Value;
use serde_yaml::Mapping;

use crate::nvr::config::NvrConfig;
use crate::protocol::{ApplyReply, CameraAction, Event};
use crate::replay::errors::RequestError;
use crate::replay::lifecycle::{ClientId, Input, JobFailure, UpdateDone, UpdateRequest};
use crate::replay::overrides;
use crate::replay::session::Tuning;

use super::atomic_file::write_atomic;
use super::clock;
use super::nvr_link::Job;
use super::Daemon;

/// An update sent to Frigate: what to publish locally once it took it.
pub(super) struct PendingUpdate {
    replay: String,
    config: Mapping,
    json: Value,
    sections: Vec<String>,
}

/// An update judged and ready to publish.
struct Prepared {
    old: Mapping,
    new: Mapping,
    json: Value,
    done: UpdateDone,
}

impl Daemon {
    /// update: merge, rebuild, validate, then publish → [`Input::UpdatePublished`].
    pub(super) fn publish_update(&mut self, request: UpdateRequest) -> Option<Input> {
        let client = request.client;
        let replay = request.replay.as_str();
        let prepared = match self.prepare_update(&request) {
            Ok(prepared) => prepared,
            Err(error) => {
                return Some(Input::UpdatePublished {
                    client,
                    result: Err(error),
                })
            }
        };
        let Prepared {
            old,
            new,
            json,
            done,
        } = prepared;
        // Nothing the replay camera runs with changed (a value set to what
        // the source has): nothing to tell anyone.
        if done.changed.is_empty() {
            return Some(Input::UpdatePublished {
                client,
                result: Ok(done),
            });
        }
        let pending = PendingUpdate {
            replay: replay.to_string(),
            config: new,
            json: json.clone(),
            sections: done.changed.clone(),
        };
        if self.nvr.is_none() {
            let result = self.publish_updated(pending).map(|()| done);
            return Some(Input::UpdatePublished { client, result });
        }
        let old = match self.camera_json(&old) {
            Ok(old) => old,
            Err(e) => {
                return Some(Input::UpdatePublished {
                    client,
                    result: Err(RequestError::InvalidParams(e)),
                })
            }
        };
        let sections = done.changed.clone();
        self.pending_update = Some(pending);
        let link = self.nvr.as_mut()?;
        let results = link.submit(
            Job::Update {
                client,
                replay: replay.to_string(),
                old,
                new: json,
                sections,
                done,
                refusal: None,
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }

    /// The session's new overrides, the camera rebuilt with them and
    /// validated, and what it was published as before.
    fn prepare_update(&self, request: &UpdateRequest) -> Result<Prepared, RequestError> {
        let UpdateRequest {
            source,
            replay,
            mode,
            detect_size,
            tuning,
            overrides: new,
            reset,
            ..
        } = request;
        let (mode, detect_size) = (*mode, *detect_size);
        let invalid = |e: overrides::OverrideError| RequestError::InvalidParams(e.to_string());
        let kept = overrides::reset(tuning.overrides.as_ref(), reset).map_err(invalid)?;
        let session_overrides = match &new {
            Some(new) => overrides::accumulate(kept.as_ref(), new),
            None => kept,
        };
        let new_tuning = Tuning {
            speed: tuning.speed,
            overrides: session_overrides.clone(),
        };
        let mut warnings = Vec::new();
        let refused = |failure: JobFailure| match failure {
            JobFailure::InvalidCamera(message) => RequestError::InvalidParams(format!(
                "the update would make camera {replay} invalid: {message}"
            )),
            other => RequestError::InvalidParams(other.to_string()),
        };
        let config = self
            .mode_camera_config(
                source,
                replay,
                mode,
                detect_size,
                &new_tuning,
                &mut warnings,
            )
            .map_err(refused)?;
        let json = self.camera_json(&config).map_err(|e| {
            RequestError::InvalidParams(format!("the update cannot be published: {e}"))
        })?;
        // What the NVR runs now: the camera file last written, else the
        // camera rebuilt from the tuning before this update.
        let old = match self.published_camera(replay) {
            Some(old) => old,
            None => self
                .mode_camera_config(source, replay, mode, detect_size, tuning, &mut warnings)
                .map_err(refused)?,
        };
        let changed = overrides::changed_sections(&old, &config);
        Ok(Prepared {
            old,
            new: config,
            json,
            done: UpdateDone {
                overrides: session_overrides,
                changed,
            },
        })
    }

    /// The camera as `cameras/<replay>.yml` holds it (replayd's own file in
    /// its runtime dir).
    fn published_camera(&self, replay: &str) -> Option<Mapping> {
        let text = std::fs::read_to_string(self.camera_file(replay)).ok()?;
        let document: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
        document.get("cameras")?.get(replay)?.as_mapping().cloned()
    }

    /// The camera file and the `camera update` event of an update.
    fn publish_updated(&mut self, update: PendingUpdate) -> Result<(), RequestError> {
        let file = self.camera_file(&update.replay);
        let text = crate::replay::camera::published_document(&update.replay, &update.config);
        write_atomic(&file, text.as_bytes(), 0o644).map_err(|e| RequestError::Io {
            what: format!("cannot write {}", file.display()),
            source: e,
        })?;
        self.broadcast(&Event::Camera {
            action: CameraAction::Update,
            camera: update.replay,
            config: Some(update.json),
            sections: Some(update.sections),
        });
        Ok(())
    }

    /// What a finished Frigate job means here besides the lifecycle input:
    /// an update Frigate took is published locally; after an apply the NVR
    /// config (which Frigate rewrote) is read again.
    pub(super) fn after_nvr_job(&mut self, input: &Input) {
        match input {
            Input::UpdatePublished { result, .. } => {
                let pending = self.pending_update.take();
                if let (Ok(_), Some(update)) = (result, pending) {
                    if let Err(e) = self.publish_updated(update) {
                        // Frigate runs the update; only the file lags.
                        log::error!("{e}");
                    }
                }
            }
            Input::Applied { result: Ok(_), .. } => self.reread_nvr_config(),
            _ => {}
        }
    }

    /// The NVR config again, after Frigate rewrote it: later builds see the
    /// source camera's new values.
    fn reread_nvr_config(&mut self) {
        let path = self.loaded.nvr.path().to_path_buf();
        match NvrConfig::load(&path) {
            Ok(nvr) => self.loaded.nvr = nvr,
            Err(e) => log::warn!(
                "cannot read the NVR config again after the apply ({e}); keeping the one read before"
            ),
        }
    }

    /// apply: the overrides of `sections` into the source camera → [`Input::Applied`].
    pub(super) fn apply_overrides(
        &mut self,
        client: ClientId,
        source: &str,
        overrides: &Value,
        sections: &[String],
    ) -> Option<Input> {
        let restricted = overrides::restrict(overrides, sections);
        if restricted.as_object().is_none_or(|m| m.is_empty()) {
            return Some(Input::Applied {
                client,
                result: Err(RequestError::InvalidParams(format!(
                    "the overrides have none of the sections {}",
                    sections.join(", ")
                ))),
            });
        }
        if self.nvr.is_none() {
            return Some(Input::Applied {
                client,
                result: Err(RequestError::Unsupported(format!(
                    "the file publisher cannot change the source camera (replayd never writes the NVR's config file {}): paste this into it and restart the NVR:\n{}",
                    self.loaded.nvr.path().display(),
                    overrides::paste_yaml(source, &restricted)
                ))),
            });
        }
        let (Some(effective), Some(own)) = (
            self.loaded.nvr.effective_camera(source),
            self.loaded.nvr.camera(source).cloned(),
        ) else {
            return Some(Input::Applied {
                client,
                result: Err(RequestError::NotFound(format!(
                    "camera '{source}' is no longer in the NVR config {}",
                    self.loaded.nvr.path().display()
                ))),
            });
        };
        let plan = overrides::apply_plan(&effective, &own, overrides, sections);
        for skipped in &plan.skipped {
            log::warn!("apply to {source}: {skipped}");
        }
        if plan.patches.is_empty() {
            return Some(Input::Applied {
                client,
                result: Ok(ApplyReply::default()),
            });
        }
        let link = self.nvr.as_mut()?;
        let results = link.submit(
            Job::Apply {
                client,
                source: source.to_string(),
                patches: plan.patches,
                applied: plan.applied,
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }
}
