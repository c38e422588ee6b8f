//! The replay camera's configuration: build from the source camera, validate (SPEC §4). Pure.
//! CONTRACT STUB — to be implemented; keep these signatures.

use crate::nvr::config::NvrConfig;
use std::path::Path;

pub const REPLAY_PREFIX: &str = "_replay_";

/// `^[a-zA-Z0-9_-]+$`
pub fn is_valid_camera_name(_name: &str) -> bool {
    todo!()
}

pub fn replay_camera_name(source: &str) -> String {
    format!("{REPLAY_PREFIX}{source}")
}

/// A config the NVR would refuse; Display is "FIELD: message".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CameraError {
    pub field: String,
    pub message: String,
}

/// The replay camera's body (the value under `cameras.<replay name>`).
pub fn build(_nvr: &NvrConfig, _source: &str, _clip: &Path) -> Result<serde_yaml::Mapping, CameraError> {
    todo!()
}

/// Refuses what the NVR would refuse, merged into `nvr`.
pub fn validate(_nvr: &NvrConfig, _name: &str, _camera: &serde_yaml::Mapping) -> Result<(), CameraError> {
    todo!()
}

/// The published file's text: `{cameras: {<name>: <camera>}}` as YAML.
pub fn published_document(_name: &str, _camera: &serde_yaml::Mapping) -> String {
    todo!()
}
