//! The NVR's configuration (YAML or JSON): discovery, merge keys, cameras.
//! CONTRACT STUB — to be implemented; keep these signatures.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct NvrConfig {
    path: PathBuf,
    root: serde_yaml::Mapping,
}

#[derive(Debug, thiserror::Error)]
pub enum NvrConfigError {
    #[error("cannot read NVR config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The NVR config path: `explicit` (replayd.toml nvr.config), else $CONFIG_FILE
/// (`env_config_file`), else /config/config.yml, falling back to /config/config.yaml.
pub fn discover(_explicit: Option<&Path>, _env_config_file: Option<PathBuf>) -> PathBuf {
    todo!()
}

impl NvrConfig {
    pub fn load(_path: &Path) -> Result<NvrConfig, NvrConfigError> {
        todo!()
    }
    pub fn parse(_text: &str, _path: &Path) -> Result<NvrConfig, NvrConfigError> {
        todo!()
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn camera_names(&self) -> Vec<String> {
        todo!()
    }
    pub fn has_camera(&self, _name: &str) -> bool {
        todo!()
    }
    /// `database.path`, if the config sets it.
    pub fn database_path(&self) -> Option<PathBuf> {
        todo!()
    }
    pub fn root(&self) -> &serde_yaml::Mapping {
        &self.root
    }
}
