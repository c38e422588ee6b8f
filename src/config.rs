//! replayd.toml: every key optional with built-in defaults (SPEC §1).
//!
//! Three steps, kept apart so the first two stay pure: serde reads the text
//! into `Raw*` structs (unknown keys and wrong types fail here), `validate`
//! turns them into [`Config`] (bad values fail here), and [`load`] does the
//! file IO. Every error names the file, the line and the full dotted key.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Where replayd looks when `--config` is not given; a missing file there means defaults.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/replayd/replayd.toml";

const DEFAULT_MEDIA_DIR: &str = "/media/frigate";
const DEFAULT_RUNTIME_DIR: &str = "/run/replayd";
const SOCKET_NAME: &str = "control.sock";
const DEFAULT_SOCKET_MODE: u32 = 0o660;
const DEFAULT_ADMIN_GROUP: &str = "replayd";
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(12 * 3600);
const DEFAULT_MAX_RANGE: Duration = Duration::from_secs(6 * 3600);
const DEFAULT_FFMPEG: &str = "ffmpeg";
const DEFAULT_FFPROBE: &str = "ffprobe";
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// `sun_path` holds 108 bytes including the terminating NUL; a longer socket
/// path only fails at bind time, so catch it here where the key can be named.
const MAX_SOCKET_PATH: usize = 107;

const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace", "off"];
const LOG_TARGETS: &[&str] = &["auto", "journal", "syslog", "stderr"];

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
        Self::from_runtime_directory_var(std::env::var_os("RUNTIME_DIRECTORY").as_deref())
    }

    /// Builds the environment from the raw value of `$RUNTIME_DIRECTORY`.
    /// systemd joins several `RuntimeDirectory=` entries with ':'; ours is the first.
    pub fn from_runtime_directory_var(value: Option<&OsStr>) -> Self {
        Environment {
            runtime_directory: value.and_then(first_runtime_entry),
        }
    }
}

fn first_runtime_entry(value: &OsStr) -> Option<PathBuf> {
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
    let runtime_dir = env
        .runtime_directory
        .as_deref()
        .and_then(|dir| first_runtime_entry(dir.as_os_str()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNTIME_DIR));
    Config {
        nvr: NvrSettings {
            config: None,
            database: None,
            media_dir: PathBuf::from(DEFAULT_MEDIA_DIR),
        },
        control: ControlSettings {
            socket: runtime_dir.join(SOCKET_NAME),
            socket_mode: DEFAULT_SOCKET_MODE,
            admin_group: DEFAULT_ADMIN_GROUP.to_string(),
        },
        runtime: RuntimeSettings { dir: runtime_dir },
        session: SessionSettings {
            max_duration: DEFAULT_MAX_DURATION,
            max_range: DEFAULT_MAX_RANGE,
        },
        ffmpeg: FfmpegSettings {
            path: PathBuf::from(DEFAULT_FFMPEG),
            ffprobe: PathBuf::from(DEFAULT_FFPROBE),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
        },
        log: LogSettings {
            target: LogTarget::Auto,
            level: log::LevelFilter::Info,
        },
    }
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
    log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawNvr {
    config: Option<Spanned<String>>,
    database: Option<Spanned<String>>,
    media_dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRuntime {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawControl {
    socket: Option<Spanned<String>>,
    socket_mode: Option<Spanned<RawMode>>,
    admin_group: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSession {
    max_duration: Option<Spanned<RawDuration>>,
    max_range: Option<Spanned<RawDuration>>,
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
        cfg.nvr.media_dir = c.absolute_path(v, "nvr.media_dir")?;
    }

    if let Some(v) = &raw.runtime.dir {
        cfg.runtime.dir = c.absolute_path(v, "runtime.dir")?;
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
    let name = text.get(span).unwrap_or_default().trim_matches(['"', '\'']);
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
        path.push(key.get_ref().to_string());
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
