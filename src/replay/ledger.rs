//! The ledger (SPEC §1): what replayd has done to the NVR and the replay dir
//! that is not undone yet. Pure; `daemon::ledger_store` reads and writes it.
//!
//! An entry is recorded *before* its effect and dropped once the effect is
//! undone, so after a crash the ledger names everything that may be
//! replayd's. It is also what keeps replayd's hands off what is not its own:
//! a prefixed camera the ledger does not name belongs to someone else.
//!
//! Only names are stored, never paths: a folder is `<replay_dir>/<name>/`,
//! derived here from a validated name, so a tampered file can name nothing
//! outside replayd's own folders. A file with any entry that does not pass
//! validation is refused whole.
//!
//! JSON (`schema` is bumped when the meaning changes):
//! ```json
//! {
//!   "schema": 1,
//!   "cameras": [{"name": "_replay_front", "publisher": "frigate",
//!                "nvr_url": "http://127.0.0.1:5000", "recorded_at": 1795514400.0}],
//!   "folders": [{"camera": "_replay_front"}],
//!   "rows_owed": ["_replay_front"]
//! }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{HttpUrl, Publisher};
use crate::replay::names::is_valid as is_valid_camera_name;

pub const SCHEMA_VERSION: u32 = 1;

/// A name becomes a folder name: no longer than a file name may be.
const MAX_NAME_LEN: usize = 255;

/// A replay camera published to an NVR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    pub name: String,
    pub publisher: Publisher,
    /// The NVR API it was published through (`frigate` only), so that a
    /// changed `publish.frigate.url` cannot hide a camera left behind.
    pub nvr_url: Option<String>,
    /// Unix seconds when the entry was recorded.
    pub recorded_at: f64,
}

/// A folder `<replay_dir>/<camera>/` replayd created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    pub camera: String,
}

impl FolderEntry {
    /// The folder's path, derived from the validated name.
    pub fn path(&self, replay_dir: &Path) -> PathBuf {
        replay_dir.join(&self.camera)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LedgerError {
    #[error("not a ledger: {0}")]
    Syntax(String),
    #[error("unknown schema version {0} (expected {SCHEMA_VERSION})")]
    Schema(u32),
    #[error(
        "{list}: '{name}' is not a replay camera name \
         ('{prefix}' and a camera name of a-z, A-Z, 0-9, '_', '-')"
    )]
    InvalidName {
        list: &'static str,
        name: String,
        prefix: String,
    },
    #[error("{list}: '{name}' is listed twice")]
    Duplicate { list: &'static str, name: String },
    #[error("cameras: '{name}': {detail}")]
    InvalidCamera { name: String, detail: String },
}

/// The file as serde sees it; [`Ledger::from_json`] validates it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerFile {
    schema: u32,
    cameras: Vec<CameraEntry>,
    folders: Vec<FolderEntry>,
    rows_owed: Vec<String>,
}

/// Every entry's name is a replay camera name with `prefix`; each list holds
/// a name at most once.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    prefix: String,
    cameras: Vec<CameraEntry>,
    folders: Vec<FolderEntry>,
    rows_owed: Vec<String>,
}

impl Ledger {
    /// An empty ledger for replay cameras named `<prefix><source camera>`.
    pub fn new(prefix: &str) -> Ledger {
        Ledger {
            prefix: prefix.to_string(),
            cameras: Vec::new(),
            folders: Vec::new(),
            rows_owed: Vec::new(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn cameras(&self) -> &[CameraEntry] {
        &self.cameras
    }

    pub fn folders(&self) -> &[FolderEntry] {
        &self.folders
    }

    /// Replay cameras whose rows in the NVR's database still need deleting.
    pub fn rows_owed(&self) -> &[String] {
        &self.rows_owed
    }

    pub fn is_empty(&self) -> bool {
        self.cameras.is_empty() && self.folders.is_empty() && self.rows_owed.is_empty()
    }

    /// Whether the NVR camera `name` is replayd's: it was published and not
    /// yet removed. Folders and rows do not count: a camera is recorded
    /// before it is published, so one that is not recorded was never ours.
    pub fn names_camera(&self, name: &str) -> bool {
        self.cameras.iter().any(|c| c.name == name)
    }

    /// Records a camera about to be published; replaces an entry of the same name.
    pub fn record_camera(&mut self, entry: CameraEntry) -> Result<(), LedgerError> {
        self.check_camera(&entry)?;
        match self.cameras.iter_mut().find(|c| c.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.cameras.push(entry),
        }
        Ok(())
    }

    /// The camera is gone from the NVR. Returns whether it was recorded.
    pub fn drop_camera(&mut self, name: &str) -> bool {
        remove_where(&mut self.cameras, |c| c.name == name)
    }

    /// Records `<replay_dir>/<camera>/` about to be created.
    pub fn record_folder(&mut self, camera: &str) -> Result<(), LedgerError> {
        self.check_name("folders", camera)?;
        if !self.folders.iter().any(|f| f.camera == camera) {
            self.folders.push(FolderEntry {
                camera: camera.to_string(),
            });
        }
        Ok(())
    }

    /// The folder is removed. Returns whether it was recorded.
    pub fn drop_folder(&mut self, camera: &str) -> bool {
        remove_where(&mut self.folders, |f| f.camera == camera)
    }

    /// The camera's rows in the NVR's database must be deleted.
    pub fn owe_rows(&mut self, camera: &str) -> Result<(), LedgerError> {
        self.check_name("rows_owed", camera)?;
        if !self.rows_owed.iter().any(|r| r == camera) {
            self.rows_owed.push(camera.to_string());
        }
        Ok(())
    }

    /// The camera's rows are deleted. Returns whether they were owed.
    pub fn rows_deleted(&mut self, camera: &str) -> bool {
        remove_where(&mut self.rows_owed, |r| r == camera)
    }

    /// The file's bytes (pretty JSON and a newline, for a person reading it).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let file = LedgerFile {
            schema: SCHEMA_VERSION,
            cameras: self.cameras.clone(),
            folders: self.folders.clone(),
            rows_owed: self.rows_owed.clone(),
        };
        let mut out = serde_json::to_vec_pretty(&file)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Reads and validates a ledger written for replay cameras with `prefix`.
    pub fn from_json(bytes: &[u8], prefix: &str) -> Result<Ledger, LedgerError> {
        // The schema is looked at first, so that a newer file is reported as
        // such rather than as an unknown field.
        #[derive(Deserialize)]
        struct Version {
            schema: u32,
        }
        let version: Version =
            serde_json::from_slice(bytes).map_err(|e| LedgerError::Syntax(e.to_string()))?;
        if version.schema != SCHEMA_VERSION {
            return Err(LedgerError::Schema(version.schema));
        }
        let file: LedgerFile =
            serde_json::from_slice(bytes).map_err(|e| LedgerError::Syntax(e.to_string()))?;
        let mut ledger = Ledger::new(prefix);
        for entry in file.cameras {
            if ledger.names_camera(&entry.name) {
                return Err(duplicate("cameras", &entry.name));
            }
            ledger.record_camera(entry)?;
        }
        for folder in file.folders {
            if ledger.folders.contains(&folder) {
                return Err(duplicate("folders", &folder.camera));
            }
            ledger.record_folder(&folder.camera)?;
        }
        for name in file.rows_owed {
            if ledger.rows_owed.contains(&name) {
                return Err(duplicate("rows_owed", &name));
            }
            ledger.owe_rows(&name)?;
        }
        Ok(ledger)
    }

    fn check_name(&self, list: &'static str, name: &str) -> Result<(), LedgerError> {
        let ok = name.len() > self.prefix.len()
            && name.len() <= MAX_NAME_LEN
            && name.starts_with(&self.prefix)
            && is_valid_camera_name(name);
        if ok {
            Ok(())
        } else {
            Err(LedgerError::InvalidName {
                list,
                name: crate::protocol::printable(name),
                prefix: self.prefix.clone(),
            })
        }
    }

    fn check_camera(&self, entry: &CameraEntry) -> Result<(), LedgerError> {
        self.check_name("cameras", &entry.name)?;
        let invalid = |detail: String| LedgerError::InvalidCamera {
            name: crate::protocol::printable(&entry.name),
            detail,
        };
        if !entry.recorded_at.is_finite() || entry.recorded_at < 0.0 {
            return Err(invalid(format!(
                "recorded_at {} is not a time",
                entry.recorded_at
            )));
        }
        match (entry.publisher, &entry.nvr_url) {
            (Publisher::File, None) => Ok(()),
            (Publisher::File, Some(_)) => Err(invalid(
                "nvr_url is only for the frigate publisher".to_string(),
            )),
            (Publisher::Frigate, None) => {
                Err(invalid("the frigate publisher needs nvr_url".to_string()))
            }
            // Only what publish.frigate.url accepts: a tampered file must
            // not point replayd's requests anywhere else.
            (Publisher::Frigate, Some(url)) => match url.parse::<HttpUrl>() {
                Ok(parsed) if parsed.to_string() == *url => Ok(()),
                Ok(parsed) => Err(invalid(format!(
                    "nvr_url {url:?} is not written as replayd writes it ({parsed})"
                ))),
                Err(e) => Err(invalid(e)),
            },
        }
    }
}

fn duplicate(list: &'static str, name: &str) -> LedgerError {
    LedgerError::Duplicate {
        list,
        name: crate::protocol::printable(name),
    }
}

fn remove_where<T>(items: &mut Vec<T>, pred: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|item| !pred(item));
    items.len() != before
}

#[cfg(test)]
mod tests;
