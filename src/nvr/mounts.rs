//! NVR paths ↔ this host's paths (SPEC §1, "Mounts"). Pure.
//!
//! Frigate usually runs in a container: its database and config hold
//! container paths (`/media/frigate/recordings/...`, `/config/frigate.db`)
//! while replayd on the host sees the same folders elsewhere. A mount maps an
//! NVR path prefix to the host path of that folder; the longest matching
//! prefix wins, matching whole path components only.
//!
//! A path with a `..` component is never mapped: after mapping, `..` would
//! walk out of the mounted folder on one side but not on the other.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Where Frigate keeps its media, wherever it runs.
pub const NVR_MEDIA_DIR: &str = "/media/frigate";
/// Where Frigate keeps its config and database, wherever it runs.
pub const NVR_CONFIG_DIR: &str = "/config";

/// One NVR path prefix and the host path of the same folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub nvr: PathBuf,
    pub host: PathBuf,
}

/// Where the mounts came from, for `--check-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountsOrigin {
    /// No container: the NVR's paths are this host's paths.
    Identity,
    /// From `nvr.media_dir` and the NVR config's folder.
    Implied,
    /// The `[nvr.mounts]` table.
    Explicit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    /// Longest NVR prefix first, so the first match is the longest.
    mounts: Vec<Mount>,
    origin: MountsOrigin,
}

impl Default for Mounts {
    fn default() -> Self {
        Mounts::identity()
    }
}

impl Mounts {
    /// No mounts: every path maps to itself.
    pub fn identity() -> Mounts {
        Mounts {
            mounts: Vec::new(),
            origin: MountsOrigin::Identity,
        }
    }

    /// The mounts in force: the explicit `[nvr.mounts]` table when it has
    /// entries, else the implied ones. An empty table counts as none, so that
    /// a bare `[nvr.mounts]` header with its examples commented out (as the
    /// shipped file has it) does not turn the implied mounts off.
    ///
    /// Implied: Frigate's own paths are fixed wherever it runs, so a media
    /// root other than `/media/frigate`, or an NVR config outside `/config`,
    /// means a container. Then both of Frigate's folders are mapped —
    /// `/media/frigate → media_dir` and `/config → <folder of the NVR
    /// config>` — the unmoved one to itself, so that a path under neither is
    /// refused rather than guessed. With neither moved, every path maps to
    /// itself.
    ///
    /// Entries are expected to have passed [`normalize`] (replayd.toml's
    /// loader does that and names the key); one that does not is left out,
    /// so that its paths are refused rather than mapped wrongly.
    pub fn resolve(
        explicit: Option<&BTreeMap<PathBuf, PathBuf>>,
        media_dir: &Path,
        nvr_config_path: &Path,
    ) -> Mounts {
        if let Some(table) = explicit.filter(|t| !t.is_empty()) {
            let mounts = table
                .iter()
                .filter_map(|(nvr, host)| {
                    Some(Mount {
                        nvr: normalize(nvr).ok()?,
                        host: normalize(host).ok()?,
                    })
                })
                .collect();
            return Mounts::from_entries(mounts, MountsOrigin::Explicit);
        }
        let media = normalize(media_dir).ok();
        let config_dir = nvr_config_path.parent().and_then(|p| normalize(p).ok());
        let media_moved = media.as_deref() != Some(Path::new(NVR_MEDIA_DIR));
        let config_moved = config_dir.as_deref() != Some(Path::new(NVR_CONFIG_DIR));
        if !media_moved && !config_moved {
            return Mounts::identity();
        }
        let mut mounts = Vec::new();
        for (nvr, host) in [(NVR_MEDIA_DIR, media), (NVR_CONFIG_DIR, config_dir)] {
            if let Some(host) = host {
                mounts.push(Mount {
                    nvr: PathBuf::from(nvr),
                    host,
                });
            }
        }
        Mounts::from_entries(mounts, MountsOrigin::Implied)
    }

    fn from_entries(mut mounts: Vec<Mount>, origin: MountsOrigin) -> Mounts {
        if mounts.is_empty() {
            return Mounts::identity();
        }
        mounts.sort_by(|a, b| {
            depth(&b.nvr)
                .cmp(&depth(&a.nvr))
                .then_with(|| a.nvr.cmp(&b.nvr))
        });
        Mounts { mounts, origin }
    }

    pub fn origin(&self) -> MountsOrigin {
        self.origin
    }

    /// Longest NVR prefix first.
    pub fn entries(&self) -> &[Mount] {
        &self.mounts
    }

    pub fn is_identity(&self) -> bool {
        self.mounts.is_empty()
    }

    /// This host's path of a path the NVR uses (its database, recordings,
    /// exports). `None`: relative, has a `..` component, or no mount covers it.
    pub fn to_host(&self, nvr_path: &Path) -> Option<PathBuf> {
        let path = normalize(nvr_path).ok()?;
        if self.is_identity() {
            return Some(path);
        }
        self.mounts.iter().find_map(|m| {
            let rest = path.strip_prefix(&m.nvr).ok()?;
            Some(join(&m.host, rest))
        })
    }

    /// The NVR's path of a host path replayd publishes (the replay camera's
    /// input). `None`: relative, has a `..` component, no mount covers it, or
    /// the NVR would see another folder there (the path is shadowed by a
    /// longer NVR prefix mounted from elsewhere).
    pub fn to_nvr(&self, host_path: &Path) -> Option<PathBuf> {
        let path = normalize(host_path).ok()?;
        if self.is_identity() {
            return Some(path);
        }
        let mut candidates: Vec<&Mount> = self
            .mounts
            .iter()
            .filter(|m| path.starts_with(&m.host))
            .collect();
        candidates.sort_by(|a, b| {
            depth(&b.host)
                .cmp(&depth(&a.host))
                .then_with(|| depth(&b.nvr).cmp(&depth(&a.nvr)))
        });
        candidates.into_iter().find_map(|m| {
            let rest = path.strip_prefix(&m.host).ok()?;
            let nvr = join(&m.nvr, rest);
            (self.to_host(&nvr).as_deref() == Some(path.as_path())).then_some(nvr)
        })
    }

    /// Whether the NVR can open `host_path` (a published path needs this).
    pub fn covers_host(&self, host_path: &Path) -> bool {
        self.to_nvr(host_path).is_some()
    }

    /// One line for `--check-config`.
    pub fn describe(&self) -> String {
        let list = || {
            self.mounts
                .iter()
                .map(|m| format!("{} -> {}", m.nvr.display(), m.host.display()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.origin {
            MountsOrigin::Identity => "none (the NVR's paths are this host's paths)".to_string(),
            MountsOrigin::Implied => format!(
                "{} (implied by nvr.media_dir and the NVR config's folder; \
                 set [nvr.mounts] to change)",
                list()
            ),
            MountsOrigin::Explicit => format!("{} (nvr.mounts)", list()),
        }
    }
}

/// Why a path cannot be a mount's prefix or target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountPathError {
    #[error("must be absolute")]
    NotAbsolute,
    #[error("must not contain '..'")]
    ParentDir,
}

/// The path with `.` components, repeated and trailing slashes removed;
/// refused when relative or when it has a `..` component.
pub fn normalize(path: &Path) -> Result<PathBuf, MountPathError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => out.push("/"),
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err(MountPathError::ParentDir),
            Component::Prefix(_) => return Err(MountPathError::NotAbsolute),
        }
    }
    if !out.has_root() {
        return Err(MountPathError::NotAbsolute);
    }
    Ok(out)
}

fn depth(path: &Path) -> usize {
    path.components().count()
}

/// `base` itself when `rest` is empty (no trailing slash added).
fn join(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

#[cfg(test)]
mod tests;
