//! Publishers (SPEC §7): how the NVR gets the replay camera. Both write
//! `cameras/<name>.yml` and send the `camera` event; `frigate` also drives
//! Frigate through [`super::nvr_link`]. Every camera is written to the
//! ledger before it is published and dropped once the NVR confirmed its
//! removal.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::config::Publisher;
use crate::protocol::{CameraAction, Event};
use crate::replay::camera;
use crate::replay::ledger::CameraEntry;
use crate::replay::lifecycle::{ClientId, Input, JobFailure, NvrFacts, Removal};
use crate::replay::link::{self, Mode};
use crate::replay::mp4;
use crate::replay::names;
use crate::replay::session::Tuning;

use super::atomic_file::write_atomic;
use super::clip_job::remove_quietly;
use super::clock;
use super::nvr_link::{Job, LedgerNote};
use super::replay_folder::{self, ReplayFolder};
use super::Daemon;

impl Daemon {
    /// The NVR's answers a start needs; the file publisher has none to ask.
    pub(super) fn check_nvr(
        &mut self,
        client: ClientId,
        source: String,
        replay: String,
        remove_first: bool,
    ) -> Option<Input> {
        let ledger_owns = self.ledger.names_camera(&replay);
        let folder = self.loaded.config.session.replay_dir.join(&replay);
        let nvr_folder = self.nvr_path(&folder).ok();
        let Some(link) = self.nvr.as_mut() else {
            return Some(Input::NvrChecked {
                client,
                result: Ok(NvrFacts::default()),
            });
        };
        let results = link.submit(
            Job::Check {
                client,
                source,
                replay,
                remove_first,
                ledger_owns,
                nvr_folder,
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }

    /// starting_camera: the clip moves into place (copy mode; in link mode
    /// the playlist is the input, in place already), the camera is built
    /// for the NVR's paths and published.
    pub(super) fn publish(
        &mut self,
        source: &str,
        replay: &str,
        mode: Mode,
        detect_size: Option<(u32, u32)>,
        tuning: &Tuning,
    ) -> Option<Input> {
        let clip_path = self.input_path(replay, mode);
        let failed = |failure: JobFailure| {
            Some(Input::Published {
                replay: replay.to_string(),
                result: Err(failure),
                clip_path: clip_path.clone(),
                warnings: Vec::new(),
            })
        };
        if mode == Mode::Copy {
            let moved = ReplayFolder::open_existing(&self.loaded.config.session.replay_dir, replay)
                .and_then(|folder| folder.rename(replay_folder::PART, replay_folder::CLIP));
            if let Err(e) = moved {
                return failed(JobFailure::Io(format!(
                    "cannot move the clip into place: {e}"
                )));
            }
        }
        let mut warnings = Vec::new();
        let config =
            match self.mode_camera_config(source, replay, mode, detect_size, tuning, &mut warnings)
            {
                Ok(config) => config,
                Err(failure) => return failed(failure),
            };
        if let Err(failure) = self.write_camera_file(replay, &config) {
            return failed(failure);
        }
        let json = match self.camera_json(&config) {
            Ok(json) => json,
            Err(e) => return failed(JobFailure::InvalidCamera(e)),
        };
        if let Err(e) = self.ledger_record_camera(replay) {
            return failed(JobFailure::Io(e));
        }
        let clip_path = clip_path.clone();
        let Some(link) = self.nvr.as_mut() else {
            return Some(Input::Published {
                replay: replay.to_string(),
                result: Ok(Some(json)),
                clip_path,
                warnings,
            });
        };
        let results = link.submit(
            Job::Add {
                replay: replay.to_string(),
                config: json,
                clip_path,
                warnings,
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }

    /// A resumed session: the camera file again, and the camera in the NVR
    /// if it lost it.
    pub(super) fn republish(
        &mut self,
        source: &str,
        replay: &str,
        mode: Mode,
        detect_size: Option<(u32, u32)>,
        tuning: &Tuning,
    ) -> Option<Input> {
        let mut warnings = Vec::new();
        let built = self
            .mode_camera_config(source, replay, mode, detect_size, tuning, &mut warnings)
            .and_then(|config| self.write_camera_file(replay, &config).map(|()| config));
        let config = match built {
            Ok(config) => config,
            Err(failure) => {
                return Some(Input::Republished {
                    result: Err(failure.to_string()),
                })
            }
        };
        if self.nvr.is_none() {
            return Some(Input::Republished { result: Ok(()) });
        }
        let json = match self.camera_json(&config) {
            Ok(json) => json,
            Err(e) => return Some(Input::Republished { result: Err(e) }),
        };
        let link = self.nvr.as_mut()?;
        let results = link.submit(
            Job::Ensure {
                replay: replay.to_string(),
                config: json,
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }

    /// `camera remove`, the camera file goes, and the NVR is told.
    pub(super) fn unpublish(&mut self, replay: &str) -> Option<Input> {
        self.broadcast(&Event::Camera {
            action: CameraAction::Remove,
            camera: replay.to_string(),
            config: None,
            sections: None,
        });
        remove_quietly(&self.camera_file(replay));
        let Some(link) = self.nvr.as_mut() else {
            self.ledger_drop_camera(replay);
            return Some(Input::Unpublished {
                replay: replay.to_string(),
                result: Ok(Removal::Removed),
            });
        };
        let results = link.submit(
            Job::Remove {
                replay: replay.to_string(),
            },
            clock::boottime(),
        );
        self.take_nvr_results(results);
        None
    }

    /// What finished NVR jobs mean for the ledger, then for the lifecycle.
    pub(super) fn take_nvr_results(&mut self, results: Vec<(Input, LedgerNote)>) {
        for (input, note) in results {
            if let LedgerNote::Gone(replay) = note {
                self.ledger_drop_camera(&replay);
                // Frigate took it out of its config.yml too; a copy of that
                // file re-read meanwhile (after an apply) must not keep it,
                // or the next start would take it for someone else's.
                if self.loaded.nvr.has_camera(&replay) {
                    self.loaded.nvr = self.loaded.nvr.without_camera(&replay);
                }
            }
            self.after_nvr_job(&input);
            self.inbox.push(input);
        }
    }

    /// The replay camera's config as the NVR must see it: the clip at its
    /// NVR path (mounts), the detect size always there (SPEC §4), checked
    /// the way the NVR will check it.
    pub(super) fn camera_config(
        &self,
        source: &str,
        clip: &Path,
        detect_size: Option<(u32, u32)>,
        tuning: &Tuning,
        warnings: &mut Vec<String>,
    ) -> Result<Mapping, JobFailure> {
        let replay = names::replay_name(source);
        let owned;
        let nvr = if self.owns(&replay) {
            owned = self.loaded.nvr.without_camera(&replay);
            &owned
        } else {
            &self.loaded.nvr
        };
        let nvr_clip = self.nvr_path(clip).map_err(JobFailure::InvalidCamera)?;
        let mut config = camera::build(nvr, source, &nvr_clip, tuning)
            .map_err(|e| JobFailure::InvalidCamera(e.to_string()))?;
        if !has_detect_size(&config) {
            let size = detect_size.or_else(|| {
                let params = fs::File::open(clip)
                    .map_err(mp4::Mp4Error::from)
                    .and_then(mp4::video_params)
                    .ok()?;
                warnings.push(format!(
                    "detect size {}x{} taken from the clip: {source} sets no detect.width/height{}",
                    params.width,
                    params.height,
                    if self.nvr.is_some() {
                        " and the NVR did not say"
                    } else {
                        ""
                    }
                ));
                Some((params.width, params.height))
            });
            if let Some((width, height)) = size {
                set_detect_size(&mut config, width, height);
            }
        }
        camera::validate_tuned(nvr, source, &replay, &config, tuning)
            .map_err(|e| JobFailure::InvalidCamera(e.to_string()))?;
        Ok(config)
    }

    /// The camera as JSON, for the `camera` event and the NVR. Frigate's API
    /// cannot store some keys (an integer-like zone or mask name): that rule
    /// is the frigate publisher's only (SPEC §4), the file publisher sends
    /// what the NVR config holds.
    pub(super) fn camera_json(&self, config: &Mapping) -> Result<serde_json::Value, String> {
        let yaml = Value::Mapping(config.clone());
        match self.nvr {
            Some(_) => crate::nvr::frigate::yaml_to_json(&yaml),
            None => crate::replay::overrides::yaml_to_json(&yaml),
        }
    }

    /// The replay camera's input on this host: the clip, or the playlist.
    pub(super) fn input_path(&self, replay: &str, mode: Mode) -> PathBuf {
        let paths = self.clip_paths(replay);
        match mode {
            Mode::Copy => paths.clip,
            Mode::Link => paths.playlist,
        }
    }

    /// [`Self::camera_config`] on the input of `mode`. A playlist has no MP4
    /// header to take a detect size from: when the NVR did not say and the
    /// source sets none, the header of the first link it plays gives it
    /// (not `000000.mp4`, which a segment gone at link time never got).
    pub(super) fn mode_camera_config(
        &self,
        source: &str,
        replay: &str,
        mode: Mode,
        detect_size: Option<(u32, u32)>,
        tuning: &Tuning,
        warnings: &mut Vec<String>,
    ) -> Result<Mapping, JobFailure> {
        let input = self.input_path(replay, mode);
        let built = self.camera_config(source, &input, detect_size, tuning, warnings);
        if mode == Mode::Copy || detect_size.is_some() || built.as_ref().is_ok_and(has_detect_size)
        {
            return built;
        }
        let params = ReplayFolder::open_existing(&self.loaded.config.session.replay_dir, replay)
            .and_then(|folder| {
                let mut text = String::new();
                folder
                    .open_file(link::PLAYLIST)?
                    .take(link::PLAYLIST_MAX)
                    .read_to_string(&mut text)?;
                let first = link::playlist_names(&text)
                    .and_then(|names| names.first().map(|name| name.to_string()))
                    .ok_or_else(|| std::io::Error::other("the playlist names no link"))?;
                folder.open_file(&first)
            })
            .map_err(mp4::Mp4Error::from)
            .and_then(mp4::video_params);
        let Ok(params) = params else {
            return built;
        };
        let size = Some((params.width, params.height));
        let config = self.camera_config(source, &input, size, tuning, warnings)?;
        warnings.push(format!(
            "detect size {}x{} taken from the footage: {source} sets no detect.width/height{}",
            params.width,
            params.height,
            if self.nvr.is_some() {
                " and the NVR did not say"
            } else {
                ""
            }
        ));
        Ok(config)
    }

    /// Whether the ledger names this replay camera (published, its folder,
    /// or its rows): replayd's own, whatever the NVR's config says.
    pub(super) fn owns(&self, replay: &str) -> bool {
        self.ledger.names_camera(replay)
            || self.ledger.folders().iter().any(|f| f.camera == replay)
            || self.ledger.rows_owed().iter().any(|r| r == replay)
    }

    /// The path the NVR opens for a file of this host, through the mounts.
    pub(super) fn nvr_path(&self, host: &Path) -> Result<std::path::PathBuf, String> {
        self.loaded.config.nvr.mounts.to_nvr(host).ok_or_else(|| {
            format!(
                "{} is not under any NVR mount (nvr.mounts): the NVR could not open it",
                host.display()
            )
        })
    }

    /// Writes `cameras/<replay>.yml`.
    fn write_camera_file(&self, replay: &str, config: &Mapping) -> Result<(), JobFailure> {
        let file = self.camera_file(replay);
        let text = camera::published_document(replay, config);
        write_atomic(&file, text.as_bytes(), 0o644)
            .map_err(|e| JobFailure::Io(format!("cannot publish {}: {e}", file.display())))
    }

    /// Write-ahead: the ledger names the camera before the NVR has it.
    fn ledger_record_camera(&mut self, replay: &str) -> Result<(), String> {
        if self.ledger.names_camera(replay) {
            return Ok(());
        }
        let publisher = self.loaded.config.publish.to;
        let nvr_url = match publisher {
            Publisher::Frigate => Some(self.loaded.config.publish.frigate.url.to_string()),
            Publisher::File => None,
        };
        self.ledger
            .record_camera(CameraEntry {
                name: replay.to_string(),
                publisher,
                nvr_url,
                recorded_at: clock::wall(),
            })
            .map_err(|e| format!("cannot record {replay} in the ledger: {e}"))?;
        self.save_ledger()
    }

    pub(super) fn ledger_drop_camera(&mut self, replay: &str) {
        if self.ledger.drop_camera(replay) {
            let _ = self.save_ledger();
        }
    }

    pub(super) fn save_ledger(&self) -> Result<(), String> {
        self.ledger_store.save(&self.ledger).map_err(|e| {
            let message = format!(
                "cannot write {}: {e}; a crash now would lose track of replay cameras",
                self.ledger_store.path().display()
            );
            log::error!("{message}");
            message
        })
    }
}

fn has_detect_size(config: &Mapping) -> bool {
    let Some(Value::Mapping(detect)) = config.get("detect") else {
        return false;
    };
    detect.contains_key("width") && detect.contains_key("height")
}

fn set_detect_size(config: &mut Mapping, width: u32, height: u32) {
    let detect = config
        .entry(Value::from("detect"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Value::Mapping(detect) = detect {
        detect
            .entry(Value::from("width"))
            .or_insert(Value::from(width));
        detect
            .entry(Value::from("height"))
            .or_insert(Value::from(height));
    }
}
