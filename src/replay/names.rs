//! Camera names (SPEC §1): the one rule every name read from outside must
//! pass before it becomes part of a path, a query or a published config.

use std::fmt;

/// What every replay camera name starts with unless `session.camera_prefix`
/// says otherwise.
pub const REPLAY_PREFIX: &str = "_replay_";

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
    name.len() > REPLAY_PREFIX.len() && name.starts_with(REPLAY_PREFIX) && is_valid(name)
}

/// The replay camera of a source camera.
pub fn replay_name(source: &str) -> String {
    format!("{REPLAY_PREFIX}{source}")
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
        if name.starts_with(REPLAY_PREFIX) {
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
