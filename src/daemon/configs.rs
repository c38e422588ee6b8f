//! Loading both configurations: replayd.toml and the NVR's, together, so a
//! reload swaps them together; and what `--check-config` prints of them.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, Environment};
use crate::nvr::config::{self as nvr_config, NvrConfig};
use crate::replay::lifecycle::Settings;

/// Both configurations, loaded together so a reload swaps them together.
pub struct Loaded {
    pub config: Config,
    pub nvr: NvrConfig,
}

impl Loaded {
    /// The limits the lifecycle decides by.
    pub fn settings(&self) -> Settings {
        Settings {
            max_duration: self.config.session.max_duration.as_secs_f64(),
            max_range: self.config.session.max_range.as_secs_f64(),
            stall_timeout: self.config.ffmpeg.stall_timeout.as_secs_f64(),
            kill_grace: self.config.ffmpeg.kill_grace.as_secs_f64(),
            nvr_timeout: self.config.publish.frigate.timeout.as_secs_f64(),
        }
    }
}

/// Loads replayd.toml and the NVR config; the message names file, line and key.
pub fn load_configs(path: Option<&Path>) -> Result<Loaded, String> {
    let env = Environment::from_process();
    let config = config::load(path, &env).map_err(|e| e.to_string())?;
    let nvr_path = nvr_config::discover(
        config.nvr.config.as_deref(),
        std::env::var_os("CONFIG_FILE").map(PathBuf::from),
    );
    let nvr = NvrConfig::load(&nvr_path).map_err(|e| e.to_string())?;
    Ok(Loaded { config, nvr })
}

/// The NVR database: replayd.toml, else the NVR config's `database.path`, else Frigate's default.
///
/// `nvr.database` is this host's path as written; the NVR's own
/// `database.path` and its default are the NVR's paths, mapped through the
/// mounts (a container's `/config/frigate.db` is a bind mount on the host).
pub fn database_path(loaded: &Loaded) -> PathBuf {
    if let Some(path) = &loaded.config.nvr.database {
        return path.clone();
    }
    let nvr_path = loaded
        .nvr
        .database_path()
        .unwrap_or_else(|| PathBuf::from("/config/frigate.db"));
    loaded
        .config
        .nvr
        .mounts
        .to_host(&nvr_path)
        .unwrap_or(nvr_path)
}

/// What `--check-config` prints.
pub fn describe(loaded: &Loaded) -> String {
    let cameras: Vec<String> = loaded
        .nvr
        .camera_names()
        .iter()
        .map(|name| crate::protocol::printable(name))
        .collect();
    format!(
        "config ok\nNVR config: {}\ncameras ({}): {}\ndatabase: {}\nmedia root: {}\nruntime dir: {}\ncontrol socket: {}\n",
        loaded.nvr.path().display(),
        cameras.len(),
        cameras.join(", "),
        database_path(loaded).display(),
        loaded.config.nvr.media_dir.display(),
        loaded.config.runtime.dir.display(),
        loaded.config.control.socket.display(),
    )
}
