//! Camera names (SPEC §1): the one rule every name read from outside must
//! pass before it becomes part of a path, a query or a published config.

use std::fmt;
use std::sync::OnceLock;

/// What every replay camera name starts with unless `session.camera_prefix`
/// says otherwise.
pub const REPLAY_PREFIX: &str = "_replay_";

/// `session.camera_prefix`, set once at start-up: every name rule of the
/// process follows it, and a change takes a restart (the ledger and the
/// NVR's cameras are named with the prefix they were made with).
static PREFIX: OnceLock<String> = OnceLock::new();

/// Sets the prefix for this process; a second call keeps the first one.
pub fn set_prefix(prefix: &str) {
    let _ = PREFIX.set(prefix.to_string());
}

/// The replay camera prefix in force.
pub fn prefix() -> &'static str {
    PREFIX.get().map_or(REPLAY_PREFIX, String::as_str)
}

/// `^[a-zA-Z0-9_-]+$`: the NVR's own rule, and what keeps a name from ever
/// carrying a path separator, a dot or a control character.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A valid name that carries the replay prefix and something after it.
pub fn is_replay_name(name: &str) -> bool {
    let prefix = prefix();
    name.len() > prefix.len() && name.starts_with(prefix) && is_valid(name)
}

/// The replay camera of a source camera.
pub fn replay_name(source: &str) -> String {
    format!("{}{source}", prefix())
}

/// Why a source camera name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("camera name '{0}' is invalid: only letters, digits, '_' and '-' are allowed")]
    Invalid(String),
    #[error("camera '{0}' is itself a replay camera")]
    IsReplay(String),
}

/// A source camera's name, checked: valid, and not itself a replay camera.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CameraName(String);

impl CameraName {
    pub fn parse(name: &str) -> Result<CameraName, NameError> {
        if !is_valid(name) {
            return Err(NameError::Invalid(crate::protocol::printable(name)));
        }
        if name.starts_with(prefix()) {
            return Err(NameError::IsReplay(name.to_string()));
        }
        Ok(CameraName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `_replay_<name>`.
    pub fn replay(&self) -> String {
        replay_name(&self.0)
    }
}

impl fmt::Display for CameraName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
