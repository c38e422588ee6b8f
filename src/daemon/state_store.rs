//! session.json under the runtime dir: written atomically at every session
//! transition, tagged with the boot id so a file from before a reboot is
//! never mistaken for a live session.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::replay::session::PersistedSession;

use super::atomic_file::write_atomic;

/// Bumped when the file's meaning changes; an unknown version is treated as corrupt.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    schema: u32,
    boot_id: String,
    session: Option<PersistedSession>,
}

/// What was found at start-up.
#[derive(Debug, PartialEq)]
pub enum Loaded {
    Missing,
    /// Written during another boot: nothing of it is alive any more.
    OtherBoot,
    /// Unreadable; it was moved aside to `session.json.corrupt`.
    Corrupt(String),
    Current(Option<Box<PersistedSession>>),
}

pub struct StateStore {
    path: PathBuf,
    boot_id: String,
}

impl StateStore {
    pub fn new(runtime_dir: &Path) -> StateStore {
        StateStore {
            path: runtime_dir.join("session.json"),
            boot_id: current_boot_id(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// temp file, fsync, rename, fsync dir: a crash leaves the old or the new file, never half.
    pub fn save(&self, session: Option<&PersistedSession>) -> io::Result<()> {
        let state = StateFile {
            schema: SCHEMA_VERSION,
            boot_id: self.boot_id.clone(),
            session: session.cloned(),
        };
        let mut text = serde_json::to_vec_pretty(&state).map_err(io::Error::other)?;
        text.push(b'\n');
        write_atomic(&self.path, &text, 0o600)
    }

    pub fn load(&self) -> Loaded {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::Missing,
            Err(e) => return self.set_aside(format!("cannot read: {e}")),
        };
        match serde_json::from_slice::<StateFile>(&text) {
            Ok(state) if state.schema != SCHEMA_VERSION => {
                self.set_aside(format!("unknown schema version {}", state.schema))
            }
            Ok(state) if state.boot_id != self.boot_id => Loaded::OtherBoot,
            Ok(state) => match state.session {
                None => Loaded::Current(None),
                Some(saved) => match saved.validate(crate::replay::names::prefix()) {
                    Ok(()) => Loaded::Current(Some(Box::new(saved))),
                    Err(e) => self.set_aside(e.to_string()),
                },
            },
            Err(e) => self.set_aside(format!("not a valid state file: {e}")),
        }
    }

    fn set_aside(&self, reason: String) -> Loaded {
        let aside = self.path.with_extension("json.corrupt");
        if let Err(e) = fs::rename(&self.path, &aside) {
            log::warn!("cannot move {} aside: {e}", self.path.display());
        }
        Loaded::Corrupt(reason)
    }
}

fn current_boot_id() -> String {
    match fs::read_to_string("/proc/sys/kernel/random/boot_id") {
        Ok(id) => id.trim().to_string(),
        Err(e) => {
            log::warn!(
                "cannot read the boot id ({e}): a state file from an earlier boot cannot be told apart"
            );
            String::new()
        }
    }
}

#[cfg(test)]
mod tests;
