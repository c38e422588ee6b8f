//! replayd.toml: every key optional with built-in defaults (SPEC §1).
//! CONTRACT STUB — to be implemented; keep these signatures.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where replayd looks when `--config` is not given; a missing file there means defaults.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/replayd/replayd.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Auto,
    Journal,
    Syslog,
    Stderr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub nvr: NvrSettings,
    pub runtime: RuntimeSettings,
    pub control: ControlSettings,
    pub session: SessionSettings,
    pub ffmpeg: FfmpegSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NvrSettings {
    /// `None`: discovered ($CONFIG_FILE, else /config/config.yml, then .yaml).
    pub config: Option<PathBuf>,
    /// `None`: `database.path` of the NVR config, else /config/frigate.db.
    pub database: Option<PathBuf>,
    pub media_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSettings {
    /// Resolved: the key, else $RUNTIME_DIRECTORY (first entry), else /run/replayd.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlSettings {
    /// Resolved: the key, else <runtime.dir>/control.sock.
    pub socket: PathBuf,
    pub socket_mode: u32,
    pub admin_group: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    pub max_duration: Duration,
    pub max_range: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FfmpegSettings {
    pub path: PathBuf,
    pub ffprobe: PathBuf,
    pub stall_timeout: Duration,
    pub kill_grace: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    pub target: LogTarget,
    pub level: log::LevelFilter,
}

/// The process environment that defaults depend on (kept apart so parsing stays pure).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub runtime_directory: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Self {
        todo!()
    }
}

/// A configuration error; Display names file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

/// Parses replayd.toml text (`file` only names it in errors).
pub fn parse(_text: &str, _file: &Path, _env: &Environment) -> Result<Config, ConfigError> {
    todo!()
}

/// Loads `path`, or DEFAULT_CONFIG_PATH when `None` (missing default file = all defaults;
/// a missing explicit file is an error).
pub fn load(_path: Option<&Path>, _env: &Environment) -> Result<Config, ConfigError> {
    todo!()
}
