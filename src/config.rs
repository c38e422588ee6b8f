//! replayd.toml: every key optional with built-in defaults (SPEC §1).
//!
//! Three steps, kept apart so the first two stay pure: serde reads the text
//! into `Raw*` structs (unknown keys and wrong types fail here), `validate`
//! turns them into [`Config`] (bad values fail here), and [`load`] does the
//! file IO. Every error names the file, the line and the full dotted key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::net::Ipv6Addr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::nvr::mounts::{self, Mounts};

/// Where replayd looks when `--config` is not given; a missing file there means defaults.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/replayd/replayd.toml";

const DEFAULT_MEDIA_DIR: &str = "/media/frigate";
const DEFAULT_RUNTIME_DIR: &str = "/run/replayd";
const DEFAULT_STATE_DIR: &str = "/var/lib/replayd";
const SOCKET_NAME: &str = "control.sock";
const DEFAULT_SOCKET_MODE: u32 = 0o660;
const DEFAULT_ADMIN_GROUP: &str = "replayd";
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(12 * 3600);
const DEFAULT_MAX_RANGE: Duration = Duration::from_secs(6 * 3600);
const DEFAULT_CAMERA_PREFIX: &str = "_replay_";
/// Below the media root, not in the NVR's `clips/replay/`: Frigate 0.18
/// empties that folder at each of its starts (SPEC §1).
const REPLAY_DIR_NAME: &str = "replayd";
const IMPORT_DIR_NAME: &str = "replayd-import";
const DEFAULT_FRIGATE_HOST: &str = "127.0.0.1";
const DEFAULT_FRIGATE_PORT: u16 = 5000;
const DEFAULT_FRIGATE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_FFMPEG: &str = "ffmpeg";
const DEFAULT_FFPROBE: &str = "ffprobe";
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);
const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_CLIENTS_PER_USER: u32 = 64;

/// `sun_path` holds 108 bytes including the terminating NUL; a longer socket
/// path only fails at bind time, so catch it here where the key can be named.
const MAX_SOCKET_PATH: usize = 107;

const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace", "off"];
const LOG_TARGETS: &[&str] = &["auto", "journal", "syslog", "stderr"];
const CLIP_MODES: &[&str] = &["auto", "link", "copy"];
const PUBLISHERS: &[&str] = &["file", "frigate"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Auto,
    Journal,
    Syslog,
    Stderr,
}

impl LogTarget {
    /// The spelling used in replayd.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            LogTarget::Auto => "auto",
            LogTarget::Journal => "journal",
            LogTarget::Syslog => "syslog",
            LogTarget::Stderr => "stderr",
        }
    }
}

impl fmt::Display for LogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(LogTarget::Auto),
            "journal" => Ok(LogTarget::Journal),
            "syslog" => Ok(LogTarget::Syslog),
            "stderr" => Ok(LogTarget::Stderr),
            _ => Err(format!(
                "invalid value {s:?} (expected one of {})",
                LOG_TARGETS.join(", ")
            )),
        }
    }
}

/// How a session gets its footage (SPEC §2, clip modes); also the spelling
/// of `clip_mode` in a start request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipMode {
    /// `link` when the segments can be hard-linked into the replay dir, else `copy`.
    Auto,
    Link,
    Copy,
}

impl ClipMode {
    /// The spelling used in replayd.toml and in the protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            ClipMode::Auto => "auto",
            ClipMode::Link => "link",
            ClipMode::Copy => "copy",
        }
    }
}

impl fmt::Display for ClipMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClipMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ClipMode::Auto),
            "link" => Ok(ClipMode::Link),
            "copy" => Ok(ClipMode::Copy),
            _ => Err(one_of(s, CLIP_MODES)),
        }
    }
}

/// How the NVR gets the replay camera (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Publisher {
    /// `cameras/<name>.yml` and the `camera` event only.
    File,
    /// The same, and Frigate's HTTP API.
    Frigate,
}

impl Publisher {
    /// The spelling used in replayd.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Publisher::File => "file",
            Publisher::Frigate => "frigate",
        }
    }
}

impl fmt::Display for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Publisher {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "file" => Ok(Publisher::File),
            "frigate" => Ok(Publisher::Frigate),
            _ => Err(one_of(s, PUBLISHERS)),
        }
    }
}

fn one_of(s: &str, expected: &[&str]) -> String {
    format!(
        "invalid value {s:?} (expected one of {})",
        expected.join(", ")
    )
}

/// The NVR's API address: plain `http://host[:port]`, nothing else, since
/// replayd speaks HTTP/1.1 itself to Frigate's internal port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// A name or an IPv4 address as written, or an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
}

impl HttpUrl {
    /// `host:port` as a `Host:` header and a socket address want it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority())
    }
}

impl FromStr for HttpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let scheme_end = s.find("://").ok_or_else(|| {
            format!(
                "invalid URL {s:?} (expected http://HOST[:PORT], e.g. \"http://127.0.0.1:5000\")"
            )
        })?;
        let scheme = &s[..scheme_end];
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "unsupported scheme {scheme:?} in {s:?}: only http:// (Frigate's \
                 internal API port, 5000, which needs no TLS on loopback)"
            ));
        }
        let rest = &s[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if !tail.is_empty() && tail != "/" {
            return Err(format!(
                "URL {s:?} must not have a path, query or fragment \
                 (Frigate's API is at the root of its port)"
            ));
        }
        if authority.contains('@') {
            return Err(format!(
                "URL {s:?} must not hold credentials (use publish.frigate.token_file)"
            ));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (addr, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("URL {s:?}: unterminated IPv6 address"))?;
            if addr.parse::<Ipv6Addr>().is_err() {
                return Err(format!("URL {s:?}: invalid IPv6 address {addr:?}"));
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    format!("URL {s:?}: expected ':' and a port after the IPv6 address")
                })?),
            };
            (addr, port)
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("URL {s:?} has no host"));
        }
        let is_name = |h: &str| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !h.starts_with(['.', '-'])
        };
        if !authority.starts_with('[') && !is_name(host) {
            return Err(format!("URL {s:?}: invalid host {host:?}"));
        }
        let port = match port {
            None => 80,
            // Digits only: u16's FromStr would also take "+5000".
            Some(p) => Some(p)
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("URL {s:?}: invalid port {p:?} (1 to 65535)"))?,
        };
        Ok(HttpUrl {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub nvr: NvrSettings,
    pub runtime: RuntimeSettings,
    pub control: ControlSettings,
    pub session: SessionSettings,
    pub ffmpeg: FfmpegSettings,
    pub publish: PublishSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NvrSettings {
    /// `None`: discovered ($CONFIG_FILE, else /config/config.yml, then .yaml).
    pub config: Option<PathBuf>,
    /// `None`: `database.path` of the NVR config, else /config/frigate.db.
    pub database: Option<PathBuf>,
    pub media_dir: PathBuf,
    /// `[nvr.mounts]`, else the mounts implied by `media_dir` and the NVR
    /// config's folder (SPEC §1, "Mounts").
    pub mounts: Mounts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSettings {
    /// Resolved: the key, else $RUNTIME_DIRECTORY (first entry), else /run/replayd.
    pub dir: PathBuf,
    /// Resolved: the key, else $STATE_DIRECTORY (first entry), else /var/lib/replayd.
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlSettings {
    /// Resolved: the key, else <runtime.dir>/control.sock.
    pub socket: PathBuf,
    pub socket_mode: u32,
    pub admin_group: String,
    /// A client that is neither subscribed nor owed a reply is closed after
    /// this long without a request.
    pub client_idle_timeout: Duration,
    /// Connections one uid may hold at once (root: ten times as many), so
    /// no local user can take every fd (issue: fd exhaustion by clients).
    pub max_clients_per_user: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    pub max_duration: Duration,
    pub max_range: Duration,
    /// Matches the camera-name rule; the replay camera is this + the source's name.
    pub camera_prefix: String,
    pub clip_mode: ClipMode,
    /// Resolved: the key, else <nvr.media_dir>/replayd.
    pub replay_dir: PathBuf,
    /// Resolved: the key, else <nvr.media_dir>/replayd-import.
    pub import_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FfmpegSettings {
    pub path: PathBuf,
    pub ffprobe: PathBuf,
    pub stall_timeout: Duration,
    pub kill_grace: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublishSettings {
    pub to: Publisher,
    pub frigate: FrigateSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrigateSettings {
    pub url: HttpUrl,
    /// A file holding a bearer token, re-read on each use; `None`: no token.
    pub token_file: Option<PathBuf>,
    /// For one request.
    pub timeout: Duration,
    /// How a person's browser reaches the NVR, shown by `status`. Resolved:
    /// the key, else `url`.
    pub view_url: String,
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
    pub state_directory: Option<PathBuf>,
    /// `$CONFIG_FILE`: where the NVR config is, hence which folder `/config`
    /// is on this host.
    pub config_file: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Self {
        Self::from_vars(
            std::env::var_os("RUNTIME_DIRECTORY").as_deref(),
            std::env::var_os("STATE_DIRECTORY").as_deref(),
            std::env::var_os("CONFIG_FILE").as_deref(),
        )
    }

    /// Builds the environment from the raw value of `$RUNTIME_DIRECTORY`.
    /// systemd joins several `RuntimeDirectory=` entries with ':'; ours is the first.
    pub fn from_runtime_directory_var(value: Option<&OsStr>) -> Self {
        Self::from_vars(value, None, None)
    }

    /// Builds the environment from the raw values of `$RUNTIME_DIRECTORY`,
    /// `$STATE_DIRECTORY` (first entry of each) and `$CONFIG_FILE` (empty =
    /// unset, as `Environment=CONFIG_FILE=` in a drop-in clears it).
    pub fn from_vars(
        runtime_directory: Option<&OsStr>,
        state_directory: Option<&OsStr>,
        config_file: Option<&OsStr>,
    ) -> Self {
        Environment {
            runtime_directory: runtime_directory.and_then(first_dir_entry),
            state_directory: state_directory.and_then(first_dir_entry),
            config_file: config_file.filter(|v| !v.is_empty()).map(PathBuf::from),
        }
    }
}

/// The first of systemd's ':'-joined directory entries.
fn first_dir_entry(value: &OsStr) -> Option<PathBuf> {
    let first = value.as_bytes().split(|&b| b == b':').next()?;
    if first.is_empty() {
        return None;
    }
    Some(PathBuf::from(OsStr::from_bytes(first)))
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

impl ConfigError {
    /// Builds the error; `message` becomes `FILE[:LINE]: [key 'KEY': ]DETAIL`.
    pub fn new(file: &Path, line: Option<usize>, key: Option<String>, detail: &str) -> Self {
        let mut message = file.display().to_string();
        if let Some(line) = line {
            message.push_str(&format!(":{line}"));
        }
        message.push_str(": ");
        if let Some(key) = &key {
            message.push_str(&format!("key '{key}': "));
        }
        message.push_str(detail);
        ConfigError {
            file: file.to_path_buf(),
            line,
            key,
            message,
        }
    }
}

/// The configuration replayd runs with when there is no replayd.toml.
pub fn defaults(env: &Environment) -> Config {
    let first_entry = |dir: &Option<PathBuf>, default: &str| {
        dir.as_deref()
            .and_then(|dir| first_dir_entry(dir.as_os_str()))
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let runtime_dir = first_entry(&env.runtime_directory, DEFAULT_RUNTIME_DIR);
    let state_dir = first_entry(&env.state_directory, DEFAULT_STATE_DIR);
    let media_dir = PathBuf::from(DEFAULT_MEDIA_DIR);
    let url = HttpUrl {
        host: DEFAULT_FRIGATE_HOST.to_string(),
        port: DEFAULT_FRIGATE_PORT,
    };
    Config {
        nvr: NvrSettings {
            config: None,
            database: None,
            mounts: Mounts::resolve(None, &media_dir, &nvr_config_path(None, env)),
            media_dir: media_dir.clone(),
        },
        control: ControlSettings {
            socket: runtime_dir.join(SOCKET_NAME),
            socket_mode: DEFAULT_SOCKET_MODE,
            admin_group: DEFAULT_ADMIN_GROUP.to_string(),
            client_idle_timeout: DEFAULT_CLIENT_IDLE_TIMEOUT,
            max_clients_per_user: DEFAULT_MAX_CLIENTS_PER_USER,
        },
        runtime: RuntimeSettings {
            dir: runtime_dir,
            state_dir,
        },
        session: SessionSettings {
            max_duration: DEFAULT_MAX_DURATION,
            max_range: DEFAULT_MAX_RANGE,
            camera_prefix: DEFAULT_CAMERA_PREFIX.to_string(),
            clip_mode: ClipMode::Auto,
            replay_dir: media_dir.join(REPLAY_DIR_NAME),
            import_dir: media_dir.join(IMPORT_DIR_NAME),
        },
        ffmpeg: FfmpegSettings {
            path: PathBuf::from(DEFAULT_FFMPEG),
            ffprobe: PathBuf::from(DEFAULT_FFPROBE),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
        },
        publish: PublishSettings {
            to: Publisher::File,
            frigate: FrigateSettings {
                view_url: url.to_string(),
                url,
                token_file: None,
                timeout: DEFAULT_FRIGATE_TIMEOUT,
            },
        },
        log: LogSettings {
            target: LogTarget::Auto,
            level: log::LevelFilter::Info,
        },
    }
}

/// Where the NVR config is, for the one thing the mounts need of it: its
/// folder. Like `nvr::config::discover`, without looking at files: its
/// fallback, config.yaml, lives in the same folder as config.yml.
fn nvr_config_path(explicit: Option<&Path>, env: &Environment) -> PathBuf {
    explicit
        .or(env.config_file.as_deref())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(crate::nvr::config::DEFAULT_CONFIG_FILE))
}

/// Parses replayd.toml text (`file` only names it in errors).
pub fn parse(text: &str, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
    // The spanned tree is parsed first for two reasons: it separates syntax
    // errors from schema errors, and it maps a serde error's byte offset back
    // to the dotted key, which toml's error type keeps private.
    let tree = match DeTable::parse(text) {
        Ok(tree) => tree,
        Err(e) => return Err(syntax_error(&e, text, file)),
    };
    // Serde would fill a struct from an array's elements in field order, so
    // `[[session]]` would be reported against `max_duration`: refuse it here.
    for (key, value) in tree.get_ref().iter() {
        if let DeValue::Array(_) = value.get_ref() {
            return Err(ConfigError::new(
                file,
                Some(line_of(text.as_bytes(), value.span().start)),
                Some(key.get_ref().to_string()),
                "invalid type: array, expected a table",
            ));
        }
    }
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(schema_error(&e, text, file, tree.get_ref())),
    };
    validate(raw, text, file, env)
}

/// Loads `path`, or DEFAULT_CONFIG_PATH when `None` (missing default file = all defaults;
/// a missing explicit file is an error).
pub fn load(path: Option<&Path>, env: &Environment) -> Result<Config, ConfigError> {
    match path {
        Some(path) => load_file(path, false, env),
        None => load_file(Path::new(DEFAULT_CONFIG_PATH), true, env),
    }
}

fn load_file(path: &Path, missing_ok: bool, env: &Environment) -> Result<Config, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(defaults(env))
        }
        Err(e) => {
            return Err(ConfigError::new(
                path,
                None,
                None,
                &format!("cannot read: {e}"),
            ))
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = line_of(e.as_bytes(), offset);
        ConfigError::new(path, Some(line), None, "not valid UTF-8")
    })?;
    parse(&text, path, env)
}

// ---------------------------------------------------------------------------
// Durations

/// Parses a duration in the one grammar of [`crate::duration`]; the message
/// quotes the value, for an error that also names the key.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

// ---------------------------------------------------------------------------
// The file as serde sees it

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    nvr: RawNvr,
    runtime: RawRuntime,
    control: RawControl,
    session: RawSession,
    ffmpeg: RawFfmpeg,
    publish: RawPublish,
    log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawNvr {
    config: Option<Spanned<String>>,
    database: Option<Spanned<String>>,
    media_dir: Option<Spanned<String>>,
    /// Keys are NVR path prefixes, any string; a BTreeMap orders them, and
    /// TOML itself refuses a key written twice.
    mounts: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRuntime {
    dir: Option<Spanned<String>>,
    state_dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawControl {
    socket: Option<Spanned<String>>,
    socket_mode: Option<Spanned<RawMode>>,
    admin_group: Option<Spanned<String>>,
    client_idle_timeout: Option<Spanned<RawDuration>>,
    max_clients_per_user: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSession {
    max_duration: Option<Spanned<RawDuration>>,
    max_range: Option<Spanned<RawDuration>>,
    camera_prefix: Option<Spanned<String>>,
    clip_mode: Option<Spanned<String>>,
    replay_dir: Option<Spanned<String>>,
    import_dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawFfmpeg {
    path: Option<Spanned<String>>,
    ffprobe: Option<Spanned<String>>,
    stall_timeout: Option<Spanned<RawDuration>>,
    kill_grace: Option<Spanned<RawDuration>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawPublish {
    to: Option<Spanned<String>>,
    frigate: RawFrigate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawFrigate {
    url: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    timeout: Option<Spanned<RawDuration>>,
    view_url: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawLog {
    target: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
}

/// A duration string; its own type only so that a wrong type says what a
/// duration looks like instead of "expected a string".
#[derive(Debug)]
struct RawDuration(String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"90s\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// `socket_mode` as written: an octal string, or an integer.
#[derive(Debug)]
enum RawMode {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an octal mode such as \"0660\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMode, E> {
                Ok(RawMode::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMode, E> {
                i64::try_from(v)
                    .map(RawMode::Int)
                    .map_err(|_| E::custom("mode out of range (at most \"0777\")"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMode, E> {
                Ok(RawMode::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Validation

struct Checker<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, key: &str, detail: &str) -> ConfigError {
        ConfigError::new(
            self.file,
            Some(line_of(self.text.as_bytes(), span.start)),
            Some(key.to_string()),
            detail,
        )
    }

    /// A path that the daemon opens or binds: relative paths would depend on
    /// the working directory, which systemd sets to `/` but a shell does not.
    fn absolute_path(&self, value: &Spanned<String>, key: &str) -> Result<PathBuf, ConfigError> {
        let s = value.get_ref();
        self.no_empty_or_nul(value, key)?;
        if !s.starts_with('/') {
            return Err(self.error(value.span(), key, &format!("path {s:?} must be absolute")));
        }
        Ok(PathBuf::from(s))
    }

    /// A folder whose path is compared with others or mapped through the
    /// mounts: absolute, with `.`, repeated and trailing slashes removed, and
    /// no `..` (which would make "is this inside that" unanswerable).
    fn dir_path(&self, value: &Spanned<String>, key: &str) -> Result<PathBuf, ConfigError> {
        self.no_empty_or_nul(value, key)?;
        folder(value.get_ref(), "path").map_err(|e| self.error(value.span(), key, &e))
    }

    /// A program: a bare name is looked up in $PATH, anything with a '/' must be absolute.
    fn program(&self, value: &Spanned<String>, key: &str) -> Result<PathBuf, ConfigError> {
        let s = value.get_ref();
        self.no_empty_or_nul(value, key)?;
        if s.contains('/') && !s.starts_with('/') {
            return Err(self.error(
                value.span(),
                key,
                &format!("{s:?} must be a command name (looked up in PATH) or an absolute path"),
            ));
        }
        Ok(PathBuf::from(s))
    }

    fn no_empty_or_nul(&self, value: &Spanned<String>, key: &str) -> Result<(), ConfigError> {
        let s = value.get_ref();
        if s.is_empty() {
            return Err(self.error(value.span(), key, "must not be empty"));
        }
        if s.contains('\0') {
            return Err(self.error(value.span(), key, "must not contain a NUL character"));
        }
        Ok(())
    }

    fn duration(&self, value: &Spanned<RawDuration>, key: &str) -> Result<Duration, ConfigError> {
        parse_duration(&value.get_ref().0).map_err(|e| self.error(value.span(), key, &e))
    }

    fn socket_mode(&self, value: &Spanned<RawMode>, key: &str) -> Result<u32, ConfigError> {
        let span = value.span();
        let mode = match value.get_ref() {
            RawMode::Text(s) => parse_octal_mode(s),
            RawMode::Int(v) => {
                let written = self.text.get(span.clone()).unwrap_or_default();
                mode_from_integer(*v, written)
            }
        };
        mode.map_err(|e| self.error(span, key, &e))
    }
}

/// `"0660"`, `"660"` or `"0o660"`.
fn parse_octal_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!(
            "invalid mode {s:?} (expected octal digits, e.g. \"0660\")"
        ));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| format!("invalid mode {s:?}"))?;
    if mode > 0o777 {
        return Err(format!("mode {s:?} out of range (at most \"0777\")"));
    }
    Ok(mode)
}

/// An integer mode. `0o660` (a TOML octal literal) means what it says; a
/// decimal `660` is read like chmod reads it, as octal digits, because
/// taking it as decimal 660 (= 0o1224) is never what an operator meant.
fn mode_from_integer(value: i64, written: &str) -> Result<u32, String> {
    if value < 0 {
        return Err(format!("mode {value} out of range (at most \"0777\")"));
    }
    let written = written.trim_start_matches('+');
    let radix_literal = ["0o", "0x", "0b"].iter().any(|p| written.starts_with(p));
    let mode = if radix_literal {
        u32::try_from(value).map_err(|_| format!("mode {written} out of range (at most 0o777)"))?
    } else {
        parse_octal_mode(&value.to_string())?
    };
    if mode > 0o777 {
        return Err(format!("mode {written} out of range (at most 0o777)"));
    }
    Ok(mode)
}

fn validate(
    raw: RawConfig,
    text: &str,
    file: &Path,
    env: &Environment,
) -> Result<Config, ConfigError> {
    let c = Checker { text, file };
    let mut cfg = defaults(env);

    let nvr = &raw.nvr;
    if let Some(v) = &nvr.config {
        cfg.nvr.config = Some(c.absolute_path(v, "nvr.config")?);
    }
    if let Some(v) = &nvr.database {
        cfg.nvr.database = Some(c.absolute_path(v, "nvr.database")?);
    }
    if let Some(v) = &nvr.media_dir {
        cfg.nvr.media_dir = c.dir_path(v, "nvr.media_dir")?;
    }
    let explicit_mounts = match &nvr.mounts {
        Some(table) => Some(c.mounts(table)?),
        None => None,
    };
    cfg.nvr.mounts = Mounts::resolve(
        explicit_mounts.as_ref(),
        &cfg.nvr.media_dir,
        &nvr_config_path(cfg.nvr.config.as_deref(), env),
    );

    if let Some(v) = &raw.runtime.dir {
        cfg.runtime.dir = c.absolute_path(v, "runtime.dir")?;
    }
    if let Some(v) = &raw.runtime.state_dir {
        cfg.runtime.state_dir = c.dir_path(v, "runtime.state_dir")?;
    }

    let control = &raw.control;
    match &control.socket {
        Some(v) => {
            let socket = c.absolute_path(v, "control.socket")?;
            if socket.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(c.error(
                    v.span(),
                    "control.socket",
                    &format!(
                        "path is too long for a Unix socket (at most {MAX_SOCKET_PATH} bytes)"
                    ),
                ));
            }
            cfg.control.socket = socket;
        }
        None => {
            cfg.control.socket = cfg.runtime.dir.join(SOCKET_NAME);
            if cfg.control.socket.as_os_str().len() > MAX_SOCKET_PATH {
                let detail = format!(
                    "default path {} is too long for a Unix socket \
                     (at most {MAX_SOCKET_PATH} bytes); set control.socket",
                    cfg.control.socket.display()
                );
                return Err(match &raw.runtime.dir {
                    Some(v) => c.error(v.span(), "runtime.dir", &detail),
                    None => ConfigError::new(file, None, Some("control.socket".into()), &detail),
                });
            }
        }
    }
    if let Some(v) = &control.socket_mode {
        cfg.control.socket_mode = c.socket_mode(v, "control.socket_mode")?;
    }
    if let Some(v) = &control.client_idle_timeout {
        cfg.control.client_idle_timeout = c.duration(v, "control.client_idle_timeout")?;
    }
    if let Some(v) = &control.max_clients_per_user {
        let n = *v.get_ref();
        if !(1..=100_000).contains(&n) {
            return Err(c.error(
                v.span(),
                "control.max_clients_per_user",
                &format!("{n} is not between 1 and 100000"),
            ));
        }
        cfg.control.max_clients_per_user = n as u32;
    }
    if let Some(v) = &control.admin_group {
        c.no_empty_or_nul(v, "control.admin_group")?;
        let group = v.get_ref();
        if group.contains(|ch: char| ch == ':' || ch.is_whitespace()) {
            return Err(c.error(
                v.span(),
                "control.admin_group",
                &format!("invalid group name {group:?}"),
            ));
        }
        cfg.control.admin_group = group.clone();
    }

    let session = &raw.session;
    if let Some(v) = &session.max_duration {
        cfg.session.max_duration = c.duration(v, "session.max_duration")?;
    }
    if let Some(v) = &session.max_range {
        cfg.session.max_range = c.duration(v, "session.max_range")?;
    }
    if let Some(v) = &session.camera_prefix {
        let prefix = v.get_ref();
        if !crate::replay::names::is_valid(prefix) {
            return Err(c.error(
                v.span(),
                "session.camera_prefix",
                &format!(
                    "invalid prefix {prefix:?}: it starts camera names, so it must be \
                     non-empty and made of a-z, A-Z, 0-9, '_' and '-'"
                ),
            ));
        }
        cfg.session.camera_prefix = prefix.clone();
    }
    if let Some(v) = &session.clip_mode {
        cfg.session.clip_mode = v
            .get_ref()
            .parse()
            .map_err(|e: String| c.error(v.span(), "session.clip_mode", &e))?;
    }
    cfg.session.replay_dir = match &session.replay_dir {
        Some(v) => c.dir_path(v, "session.replay_dir")?,
        None => cfg.nvr.media_dir.join(REPLAY_DIR_NAME),
    };
    cfg.session.import_dir = match &session.import_dir {
        Some(v) => c.dir_path(v, "session.import_dir")?,
        None => cfg.nvr.media_dir.join(IMPORT_DIR_NAME),
    };
    c.replay_and_import_dirs_apart(&cfg, session)?;

    let ffmpeg = &raw.ffmpeg;
    if let Some(v) = &ffmpeg.path {
        cfg.ffmpeg.path = c.program(v, "ffmpeg.path")?;
    }
    if let Some(v) = &ffmpeg.ffprobe {
        cfg.ffmpeg.ffprobe = c.program(v, "ffmpeg.ffprobe")?;
    }
    if let Some(v) = &ffmpeg.stall_timeout {
        cfg.ffmpeg.stall_timeout = c.duration(v, "ffmpeg.stall_timeout")?;
    }
    if let Some(v) = &ffmpeg.kill_grace {
        cfg.ffmpeg.kill_grace = c.duration(v, "ffmpeg.kill_grace")?;
    }

    let publish = &raw.publish;
    if let Some(v) = &publish.to {
        cfg.publish.to = v
            .get_ref()
            .parse()
            .map_err(|e: String| c.error(v.span(), "publish.to", &e))?;
    }
    let frigate = &publish.frigate;
    if let Some(v) = &frigate.url {
        cfg.publish.frigate.url = v
            .get_ref()
            .parse()
            .map_err(|e: String| c.error(v.span(), "publish.frigate.url", &e))?;
    }
    cfg.publish.frigate.token_file = match &frigate.token_file {
        Some(v) if v.get_ref().is_empty() => None,
        Some(v) => Some(c.absolute_path(v, "publish.frigate.token_file")?),
        None => None,
    };
    if let Some(v) = &frigate.timeout {
        cfg.publish.frigate.timeout = c.duration(v, "publish.frigate.timeout")?;
    }
    cfg.publish.frigate.view_url = match &frigate.view_url {
        Some(v) if !v.get_ref().is_empty() => c.view_url(v, "publish.frigate.view_url")?,
        _ => cfg.publish.frigate.url.to_string(),
    };

    if let Some(v) = &raw.log.target {
        cfg.log.target = v
            .get_ref()
            .parse()
            .map_err(|e: String| c.error(v.span(), "log.target", &e))?;
    }
    if let Some(v) = &raw.log.level {
        cfg.log.level = parse_level(v.get_ref()).map_err(|e| c.error(v.span(), "log.level", &e))?;
    }
    Ok(cfg)
}

impl Checker<'_> {
    /// `[nvr.mounts]`: both sides absolute folders (see [`Self::dir_path`]);
    /// two keys naming the same prefix once normalized are refused, as TOML
    /// refuses a key written twice.
    fn mounts(
        &self,
        table: &BTreeMap<String, Spanned<String>>,
    ) -> Result<BTreeMap<PathBuf, PathBuf>, ConfigError> {
        let mut out: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut written: BTreeMap<PathBuf, &str> = BTreeMap::new();
        for (nvr, host) in table {
            let key = format!("nvr.mounts.{}", dotted_part(nvr));
            // TOML keeps no span for a key: the value's line is the key's line.
            let nvr_path = match nvr.as_str() {
                "" => Err("NVR path must not be empty".to_string()),
                s if s.contains('\0') => Err("NVR path must not contain a NUL character".into()),
                s => folder(s, "NVR path"),
            }
            .map_err(|e| self.error(host.span(), &key, &e))?;
            let host_path = self.dir_path(host, &key)?;
            if let Some(first) = written.get(&nvr_path) {
                return Err(self.error(
                    host.span(),
                    &key,
                    &format!("same NVR path prefix as {first:?}"),
                ));
            }
            written.insert(nvr_path.clone(), nvr);
            out.insert(nvr_path, host_path);
        }
        Ok(out)
    }

    /// The replay dir is cleaned of replayd's folders; the import dir is the
    /// operators'. Neither may hold the other, and the replay dir is not the
    /// media root itself (where the NVR's own folders are).
    fn replay_and_import_dirs_apart(
        &self,
        cfg: &Config,
        raw: &RawSession,
    ) -> Result<(), ConfigError> {
        let s = &cfg.session;
        let blame = |key: &str, value: &Option<Spanned<String>>, detail: &str| match value {
            Some(v) => self.error(v.span(), key, detail),
            None => ConfigError::new(self.file, None, Some(key.to_string()), detail),
        };
        if s.replay_dir == cfg.nvr.media_dir {
            return Err(blame(
                "session.replay_dir",
                &raw.replay_dir,
                "must not be the media root itself (give it a folder of its own)",
            ));
        }
        if s.import_dir.starts_with(&s.replay_dir) || s.replay_dir.starts_with(&s.import_dir) {
            let (key, value) = if raw.import_dir.is_some() {
                ("session.import_dir", &raw.import_dir)
            } else {
                ("session.replay_dir", &raw.replay_dir)
            };
            return Err(blame(
                key,
                value,
                &format!(
                    "the replay dir ({}) and the import dir ({}) must not be the same \
                     folder or inside one another",
                    s.replay_dir.display(),
                    s.import_dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// Only shown to a person as a link, so any http(s) URL without spaces
    /// or control characters (a reverse proxy may add a path).
    fn view_url(&self, value: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
        let s = value.get_ref();
        let lower = s.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"));
        let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
            && !s.chars().any(|ch| ch.is_whitespace() || ch.is_control());
        if !ok {
            return Err(self.error(
                value.span(),
                key,
                &format!("invalid URL {s:?} (expected http://HOST[:PORT][/PATH] or https://...)"),
            ));
        }
        Ok(s.clone())
    }
}

/// A folder's path, normalized; `what` names it in the message.
fn folder(s: &str, what: &str) -> Result<PathBuf, String> {
    mounts::normalize(Path::new(s)).map_err(|e| format!("{what} {s:?} {e}"))
}

/// A TOML key as written in a dotted name: bare when it can be, else quoted.
fn dotted_part(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    // Exact lowercase spellings only: LevelFilter::from_str also takes
    // "INFO" and "Warn", and one spelling keeps configs greppable.
    if !LOG_LEVELS.contains(&s) {
        return Err(format!(
            "invalid value {s:?} (expected one of {})",
            LOG_LEVELS.join(", ")
        ));
    }
    log::LevelFilter::from_str(s).map_err(|_| format!("invalid value {s:?}"))
}

// ---------------------------------------------------------------------------
// Error locations

/// 1-based line of byte `offset`.
fn line_of(text: &[u8], offset: usize) -> usize {
    let end = offset.min(text.len());
    text[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn syntax_error(e: &toml::de::Error, text: &str, file: &Path) -> ConfigError {
    let span = e.span();
    let line = span.as_ref().map(|s| line_of(text.as_bytes(), s.start));
    let detail = e.message().trim();
    if detail == "duplicate key" {
        if let Some(span) = span {
            return ConfigError::new(file, line, Some(duplicate_key(text, span)), "duplicate key");
        }
    }
    ConfigError::new(file, line, None, &format!("invalid TOML: {detail}"))
}

/// The dotted name of a duplicate key. It is in no tree, so it is read from
/// the text: its own header line, or the header in force above it.
fn duplicate_key(text: &str, span: Range<usize>) -> String {
    let line_start = text
        .get(..span.start)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |nl| nl + 1);
    let own_line = text
        .get(line_start..)
        .and_then(|t| t.lines().next())
        .unwrap_or_default();
    if let Some(header) = header_name(own_line) {
        return header;
    }
    let name = dotted_part(text.get(span).unwrap_or_default().trim_matches(['"', '\'']));
    let above = text.get(..line_start).unwrap_or_default();
    match above.lines().rev().find_map(header_name) {
        Some(header) => format!("{header}.{name}"),
        None => name.to_string(),
    }
}

/// `[a.b]` or `[[a.b]]` -> `a.b`; `None` if the line is not a header.
fn header_name(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix('[')?;
    let end = inner.find(']')?;
    let parts: Vec<&str> = inner[..end]
        .trim_start_matches('[')
        .split('.')
        .map(|part| part.trim().trim_matches(['"', '\'']))
        .collect();
    Some(parts.join("."))
}

fn schema_error(e: &toml::de::Error, text: &str, file: &Path, tree: &DeTable<'_>) -> ConfigError {
    let span = e.span();
    let line = span.as_ref().map(|s| line_of(text.as_bytes(), s.start));
    let key = span.as_ref().and_then(|s| key_at(tree, s.start));
    let message = e.message().trim();
    let detail = match message.strip_prefix("unknown field ") {
        Some(rest) => {
            let expected: Vec<&str> = backticked(rest).skip(1).collect();
            match expected.as_slice() {
                [] => "unknown key".to_string(),
                [one] => format!("unknown key (expected {one})"),
                many => format!("unknown key (expected one of {})", many.join(", ")),
            }
        }
        None => humane_serde_message(message).into_owned(),
    };
    ConfigError::new(file, line, key, &detail)
}

/// The words serde quotes in backticks, in order.
fn backticked(s: &str) -> impl Iterator<Item = &str> {
    s.split('`').skip(1).step_by(2)
}

/// Serde speaks of Rust types; the operator wrote TOML.
fn humane_serde_message(message: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(message);
    if let Some(pos) = out.find("expected struct ") {
        out = Cow::Owned(format!("{}expected a table", &out[..pos]));
    }
    if out.contains("invalid type: map") || out.contains("invalid type: sequence") {
        out = Cow::Owned(
            out.replace("invalid type: map", "invalid type: table")
                .replace("invalid type: sequence", "invalid type: array"),
        );
    }
    out
}

/// The dotted key whose name or value covers byte `offset`: the innermost
/// such entry, since a table's span also covers its header.
fn key_at(tree: &DeTable<'_>, offset: usize) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let mut path = Vec::new();
    visit_keys(
        tree,
        &mut path,
        &mut |path: &[String], key: Range<usize>, value: Range<usize>| {
            for span in [key, value] {
                let covers = span.start <= offset
                    && (offset < span.end || span.is_empty() && offset == span.start);
                let len = span.end - span.start;
                let narrower = !matches!(&best, Some((l, _)) if len > *l);
                if covers && narrower {
                    best = Some((len, path.join(".")));
                }
            }
        },
    );
    best.map(|(_, key)| key)
}

fn visit_keys<F>(table: &DeTable<'_>, path: &mut Vec<String>, f: &mut F)
where
    F: FnMut(&[String], Range<usize>, Range<usize>),
{
    for (key, value) in table.iter() {
        path.push(dotted_part(key.get_ref()));
        f(path, key.span(), value.span());
        visit_value(value.get_ref(), path, f);
        path.pop();
    }
}

fn visit_value<F>(value: &DeValue<'_>, path: &mut Vec<String>, f: &mut F)
where
    F: FnMut(&[String], Range<usize>, Range<usize>),
{
    match value {
        DeValue::Table(table) => visit_keys(table, path, f),
        DeValue::Array(array) => {
            for (i, item) in array.iter().enumerate() {
                if let Some(last) = path.last_mut() {
                    let base = last.clone();
                    *last = format!("{base}[{i}]");
                    f(path, item.span(), item.span());
                    visit_value(item.get_ref(), path, f);
                    if let Some(last) = path.last_mut() {
                        *last = base;
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
