//! The NVR's configuration (YAML or JSON): discovery, merge keys, cameras, and
//! a camera's effective settings (global sections merged under its own).
//!
//! `parse` is pure; `load` and `discover` are the only functions that touch
//! the file system.

use serde_yaml::{Mapping, Value};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

mod budget;

/// Where the NVR looks when $CONFIG_FILE is not set.
pub const DEFAULT_CONFIG_FILE: &str = "/config/config.yml";
/// The NVR's fallback when [`DEFAULT_CONFIG_FILE`] does not exist.
pub const FALLBACK_CONFIG_FILE: &str = "/config/config.yaml";

/// Root sections whose settings the NVR propagates to every camera (SPEC §4).
pub const GLOBAL_SECTIONS: [&str; 5] = ["detect", "objects", "motion", "lpr", "face_recognition"];

/// Global `lpr` and `face_recognition` also hold model settings that do not
/// exist per camera, and the NVR refuses a camera that carries them: only
/// these fields propagate (the NVR's own `allowed_fields_map`).
const CAMERA_LEVEL_FIELDS: [(&str, &[&str]); 2] = [
    (
        "lpr",
        &["enabled", "expire_time", "min_area", "enhancement"],
    ),
    ("face_recognition", &["enabled", "min_area"]),
];

/// The YAML merge key (`<<: *defaults`).
const MERGE_KEY: &str = "<<";

/// Largest NVR config read. A Frigate config is a few KiB; 4 MiB leaves
/// room for a 1.7 MB config of 80,000 keys while keeping the YAML parse of
/// a reload (linear in the text) well under a second.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// What the document may expand to once its aliases are resolved. The nodes
/// bound the time and memory of building, merging and checking the config
/// (all linear in them); the bytes bound a long string aliased many times.
/// A Frigate config of 50 cameras is about 10,000 nodes, the 80,000-key
/// config above 160,000; walking 500,000 takes ~50 ms.
const EXPANSION_BUDGET: budget::Budget = budget::Budget {
    nodes: 500_000,
    bytes: 16 * 1024 * 1024,
};

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
pub fn discover(explicit: Option<&Path>, env_config_file: Option<PathBuf>) -> PathBuf {
    discover_with(explicit, env_config_file, |p| p.is_file())
}

fn discover_with(
    explicit: Option<&Path>,
    env_config_file: Option<PathBuf>,
    is_file: impl Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    // `Environment=CONFIG_FILE=` is how a unit drop-in clears the variable.
    if let Some(path) = env_config_file.filter(|p| !p.as_os_str().is_empty()) {
        return path;
    }
    let primary = Path::new(DEFAULT_CONFIG_FILE);
    let fallback = Path::new(FALLBACK_CONFIG_FILE);
    // With neither file present the primary name is returned, so that the
    // error the operator sees names the file the NVR documents.
    if !is_file(primary) && is_file(fallback) {
        fallback.to_path_buf()
    } else {
        primary.to_path_buf()
    }
}

impl NvrConfig {
    pub fn load(path: &Path) -> Result<NvrConfig, NvrConfigError> {
        let io = |source| NvrConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        // One byte past the cap is enough to tell that the file is too large
        // without reading all of it.
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_CONFIG_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        Self::parse(&text, path)
    }

    /// Parses YAML or JSON text (JSON is YAML to the parser); `path` only
    /// names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<NvrConfig, NvrConfigError> {
        let invalid = |message: String| NvrConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if text.len() > MAX_CONFIG_BYTES {
            return Err(invalid(format!(
                "the file is larger than {} MiB; an NVR config is a few KiB",
                MAX_CONFIG_BYTES / (1024 * 1024)
            )));
        }
        check_expansion(text).map_err(&invalid)?;
        let mut value: Value =
            serde_yaml::from_str(text).map_err(|e| invalid(describe_yaml_error(&e, text)))?;
        Merger::default().value(&mut value).map_err(&invalid)?;
        let root = match value {
            Value::Mapping(root) => root,
            Value::Null => {
                return Err(invalid(
                    "the file is empty; the NVR needs at least a `cameras` section".to_string(),
                ))
            }
            other => {
                return Err(invalid(format!(
                    "the top level must be a mapping of sections (mqtt, cameras, ...), found {}",
                    describe_kind(&other)
                )))
            }
        };
        check_cameras(&root, text).map_err(&invalid)?;
        check_database(&root, text).map_err(&invalid)?;
        Ok(NvrConfig {
            path: path.to_path_buf(),
            root,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn camera_names(&self) -> Vec<String> {
        self.cameras()
            .into_iter()
            .flat_map(Mapping::keys)
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect()
    }

    /// The camera names as a terminal or a log may show them: control
    /// characters escaped (`\u{1b}`, `\n`) and each name capped, so a name in
    /// the NVR's config cannot move the cursor or forge a line of output.
    pub fn printable_camera_names(&self) -> Vec<String> {
        self.camera_names()
            .iter()
            .map(|name| crate::protocol::printable(name))
            .collect()
    }

    pub fn has_camera(&self, name: &str) -> bool {
        self.camera(name).is_some()
    }

    /// The camera's own settings as written (merge keys applied, no globals).
    pub fn camera(&self, name: &str) -> Option<&Mapping> {
        self.cameras()?.get(name)?.as_mapping()
    }

    /// `database.path`, if the config sets it.
    pub fn database_path(&self) -> Option<PathBuf> {
        let path = self.root.get("database")?.get("path")?.as_str()?;
        Some(PathBuf::from(path))
    }

    #[cfg(test)]
    pub fn root(&self) -> &serde_yaml::Mapping {
        &self.root
    }

    /// A root section exactly as written (for `lpr` and `face_recognition`
    /// this includes the model settings that never reach a camera).
    pub fn global_section(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// The camera's own mapping with every global section deep-merged under
    /// it (SPEC §4); `None` if the config has no such camera.
    pub fn effective_camera(&self, name: &str) -> Option<Mapping> {
        self.camera(name).map(|camera| self.merge_globals(camera))
    }

    /// What the NVR makes of `camera` once it sits in this config: each
    /// global section merged under the camera's own, the camera winning.
    /// Nested mappings merge key by key; any other value (a list included)
    /// is taken whole from the camera when the camera wrote it.
    pub fn merge_globals(&self, camera: &Mapping) -> Mapping {
        let mut merged = camera.clone();
        for section in GLOBAL_SECTIONS {
            let Some(global) = self.propagated_section(section) else {
                continue;
            };
            match merged.get_mut(section) {
                None => {
                    merged.insert(Value::from(section), Value::Mapping(global));
                }
                Some(Value::Mapping(own)) => merge_under(own, &global),
                // The NVR's deep merge keeps a camera value that is not a
                // mapping (even null) rather than the global one.
                Some(_) => {}
            }
        }
        merged
    }

    /// The part of a global section that reaches cameras.
    fn propagated_section(&self, section: &str) -> Option<Mapping> {
        let global = self.root.get(section)?.as_mapping()?;
        let allowed = CAMERA_LEVEL_FIELDS
            .iter()
            .find(|(name, _)| *name == section)
            .map(|(_, fields)| *fields);
        Some(match allowed {
            None => global.clone(),
            Some(fields) => global
                .iter()
                .filter(|(k, _)| k.as_str().is_some_and(|k| fields.contains(&k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    fn cameras(&self) -> Option<&Mapping> {
        self.root.get("cameras").and_then(Value::as_mapping)
    }
}

/// Copies into `own` every entry of `global` that `own` does not have,
/// recursing where both sides hold a mapping.
fn merge_under(own: &mut Mapping, global: &Mapping) {
    for (key, value) in global {
        match (own.get_mut(key), value) {
            (None, _) => {
                own.insert(key.clone(), value.clone());
            }
            (Some(Value::Mapping(own_child)), Value::Mapping(global_child)) => {
                merge_under(own_child, global_child)
            }
            (Some(_), _) => {}
        }
    }
}

/// "a list", "a string", ... for messages about a value of the wrong kind.
pub fn describe_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping key as a person reads it in a field path.
pub fn describe_key(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        other => describe_kind(other).to_string(),
    }
}

fn check_cameras(root: &Mapping, text: &str) -> Result<(), String> {
    let at = |path: &[&str]| match find_key_line(text, path) {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    };
    let cameras = match root.get("cameras") {
        None => return Err("no `cameras` section: the NVR needs at least one camera".to_string()),
        Some(Value::Mapping(cameras)) => cameras,
        Some(other) => {
            return Err(format!(
                "{}`cameras` must be a mapping of camera names to camera settings, found {}",
                at(&["cameras"]),
                describe_kind(other)
            ))
        }
    };
    for (name, camera) in cameras {
        // `! lane:` reads as the string "lane" but is not found by that name:
        // the cleanup guard would not see the camera.
        if let Value::Tagged(tagged) = name {
            return Err(format!(
                "camera name {} carries the YAML tag {}; remove the tag",
                describe_key(&tagged.value),
                tagged.tag
            ));
        }
        let Some(name) = name.as_str() else {
            return Err(format!(
                "camera names must be strings; `cameras` has the key {} ({}); quote it",
                describe_key(name),
                describe_kind(name)
            ));
        };
        if !camera.is_mapping() {
            return Err(format!(
                "{}cameras.{name}: must be a mapping of camera settings, found {}",
                at(&["cameras", name]),
                describe_kind(camera)
            ));
        }
    }
    Ok(())
}

fn check_database(root: &Mapping, text: &str) -> Result<(), String> {
    let at = |path: &[&str]| match find_key_line(text, path) {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    };
    let database = match root.get("database") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Mapping(database)) => database,
        Some(other) => {
            return Err(format!(
                "{}`database` must be a mapping (with `path`), found {}",
                at(&["database"]),
                describe_kind(other)
            ))
        }
    };
    match database.get("path") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(path)) if !path.is_empty() => Ok(()),
        Some(other) => Err(format!(
            "{}database.path: must be the path of the SQLite file, found {}",
            at(&["database", "path"]),
            if other.as_str().is_some() {
                "an empty string"
            } else {
                describe_kind(other)
            }
        )),
    }
}

/// Refuses a document whose aliases expand past [`EXPANSION_BUDGET`],
/// before anything is built from it.
fn check_expansion(text: &str) -> Result<(), String> {
    let (tally, result) = budget::measure(text, EXPANSION_BUDGET);
    let Err(err) = result else {
        return Ok(());
    };
    let what = match tally.exceeded {
        None => return Err(describe_yaml_error(&err, text)),
        Some(budget::Limit::Nodes) => format!("more than {} values", EXPANSION_BUDGET.nodes),
        Some(budget::Limit::Bytes) => format!(
            "more than {} MiB of text",
            EXPANSION_BUDGET.bytes / (1024 * 1024)
        ),
    };
    let at = match err.location() {
        Some(loc) => format!(" (it ran out while expanding line {})", loc.line()),
        None => String::new(),
    };
    Err(format!(
        "with its aliases (*name) expanded the document holds {what}{at}; \
         refusing it: an NVR config is far smaller, so this is likely an alias bomb"
    ))
}

/// Applies `<<` merge keys at every depth, including merges of mappings that
/// themselves merge (serde_yaml's `apply_merge` leaves those behind), and
/// lists of merges where the earlier mapping wins (YAML merge key spec).
/// Explicit keys always win over merged ones; merged keys take the place of
/// the `<<` entry so that the published file reads in the user's order.
#[derive(Debug, Default)]
struct Merger {
    /// Where in the document, for messages.
    path: String,
    /// Key look-ups made to decide whether a merged key is taken (a
    /// hashed look-up counts one): the test that keeps the merge linear
    /// reads it.
    comparisons: u64,
}

impl Merger {
    fn value(&mut self, value: &mut Value) -> Result<(), String> {
        match value {
            Value::Mapping(map) => self.mapping(map),
            Value::Sequence(items) => {
                let len = self.path.len();
                for (i, item) in items.iter_mut().enumerate() {
                    self.path.push_str(&format!("[{i}]"));
                    self.value(item)?;
                    self.path.truncate(len);
                }
                Ok(())
            }
            Value::Tagged(tagged) => self.value(&mut tagged.value),
            _ => Ok(()),
        }
    }

    fn mapping(&mut self, map: &mut Mapping) -> Result<(), String> {
        let len = self.path.len();
        // This resolves the `<<` entry's own mappings too, before they are
        // merged below.
        for (key, child) in map.iter_mut() {
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(&describe_key(key));
            self.value(child)?;
            self.path.truncate(len);
        }
        if !map.contains_key(MERGE_KEY) {
            return Ok(());
        }
        let where_ = if self.path.is_empty() {
            "the top level".to_string()
        } else {
            self.path.clone()
        };
        let entries = std::mem::take(map);
        // A set: a Vec here made a wide merge quadratic (80,000 keys, 28 s).
        let explicit: HashSet<Value> = entries
            .keys()
            .filter(|k| k.as_str() != Some(MERGE_KEY))
            .cloned()
            .collect();
        for (key, value) in entries {
            if key.as_str() != Some(MERGE_KEY) {
                map.insert(key, value);
                continue;
            }
            let sources = match value {
                Value::Mapping(source) => vec![source],
                Value::Sequence(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::Mapping(source) => Ok(source),
                        other => Err(format!(
                            "{where_}: each entry of a `<<` merge list must be a mapping (an alias like *defaults), found {}",
                            describe_kind(&other)
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                other => {
                    return Err(format!(
                        "{where_}: the merge key `<<` needs a mapping or a list of mappings (an alias like *defaults), found {}",
                        describe_kind(&other)
                    ))
                }
            };
            for source in sources {
                for (key, value) in source {
                    // Explicit keys win wherever they are written, before or
                    // after `<<`; among merged mappings the first one wins.
                    // Two hashed look-ups, whatever the number of keys.
                    self.comparisons += 2;
                    if !map.contains_key(&key) && !explicit.contains(&key) {
                        map.insert(key, value);
                    }
                }
            }
        }
        Ok(())
    }
}

/// serde_yaml's message, with the position where the parser knows it, and a
/// duplicate key pointed at its second occurrence when that can be found.
fn describe_yaml_error(err: &serde_yaml::Error, text: &str) -> String {
    let message = err.to_string();
    if let Some(duplicate) = describe_duplicate(&message, err.location(), text) {
        return duplicate;
    }
    match err.location() {
        Some(loc) if !message.contains(" at line ") => {
            format!("line {} column {}: {message}", loc.line(), loc.column())
        }
        _ => message,
    }
}

fn describe_duplicate(
    message: &str,
    location: Option<serde_yaml::Location>,
    text: &str,
) -> Option<String> {
    const DUPLICATE: &str = "duplicate entry with key ";
    let at = message.find(DUPLICATE)?;
    let section = message[..at].trim_end().trim_end_matches(':');
    let where_ = if section.is_empty() {
        "the top-level mapping".to_string()
    } else {
        format!("`{section}`")
    };
    let rest = &message[at + DUPLICATE.len()..];
    let shown = rest.split(" at line ").next().unwrap_or(rest).trim();
    let Some(loc) = location else {
        return Some(format!(
            "duplicate key {shown} in {where_}: each key may appear only once"
        ));
    };
    let key = shown
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(shown)
        .replace("\\\"", "\"")
        .replace("\\\\", "\\");
    Some(match locate_duplicate(text, loc.line(), loc.column(), &key) {
        Some(line) => format!(
            "line {line}: duplicate key {shown} in {where_}: each key may appear only once (the mapping starts at line {} column {})",
            loc.line(),
            loc.column()
        ),
        None => format!(
            "line {} column {}: duplicate key {shown} in {where_} (the mapping that starts there): each key may appear only once",
            loc.line(),
            loc.column()
        ),
    })
}

/// The 1-based line of the second `key:` of the block mapping that starts at
/// `line`/`column` (what serde_yaml reports for a duplicate). Best effort:
/// flow mappings (`{...}`, JSON) and unusual key spellings give `None`.
fn locate_duplicate(text: &str, line: usize, column: usize, key: &str) -> Option<usize> {
    let start = line.checked_sub(1)?;
    let indent = column.checked_sub(1)?;
    let mut seen = 0;
    for (i, raw) in text.lines().enumerate().skip(start) {
        let (depth, body) = if i == start {
            // The mapping's first key may follow "- " or "key: " on its line.
            let offset = raw.char_indices().nth(indent).map(|(at, _)| at)?;
            (indent, &raw[offset..])
        } else {
            let body = raw.trim_start_matches(' ');
            (raw.len() - body.len(), body)
        };
        let body = body.trim_end();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if i == start && (body.starts_with('{') || body.starts_with('[')) {
            return None;
        }
        if i > start && depth < indent {
            break;
        }
        if depth == indent && line_starts_with_key(body, key) {
            seen += 1;
            if seen == 2 {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Whether `body` (a line without its indentation) is `key:` (plain or quoted).
fn line_starts_with_key(body: &str, key: &str) -> bool {
    let quoted_double = format!("\"{key}\"");
    let quoted_single = format!("'{key}'");
    [key, quoted_double.as_str(), quoted_single.as_str()]
        .iter()
        .any(|spelling| {
            body.strip_prefix(spelling)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
}

/// Best-effort 1-based line of a nested block key (`cameras` → `front`), for
/// messages about values that parsed but have the wrong shape.
fn find_key_line(text: &str, path: &[&str]) -> Option<usize> {
    let mut lines = text.lines().enumerate();
    // Indentation of the keys that may match: the top level first, then
    // whatever the first line under the matched parent uses.
    let mut parent: Option<usize> = None;
    let mut found = None;
    for key in path {
        found = None;
        let mut level = if parent.is_none() { Some(0) } else { None };
        for (i, raw) in lines.by_ref() {
            let body = raw.trim_start_matches(' ');
            let indent = raw.len() - body.len();
            if body.trim_end().is_empty() || body.starts_with('#') {
                continue;
            }
            if parent.is_some_and(|parent| indent <= parent) {
                return None;
            }
            let level = *level.get_or_insert(indent);
            if indent == level && line_starts_with_key(body, key) {
                found = Some(i + 1);
                parent = Some(indent);
                break;
            }
        }
        found?;
    }
    found
}

#[cfg(test)]
mod tests;
