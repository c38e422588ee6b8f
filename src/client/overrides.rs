//! Overrides as `replayctl` builds and shows them (SPEC §2 "overrides",
//! §6 `--set KEY=VALUE`, `--overrides FILE`, `diff`). Pure: text in, JSON
//! out, and back to text for a person.
//!
//! A KEY is a dotted path whose first part is a section an override may
//! touch ([`SECTIONS`]): `motion.threshold`, `zones.yard.inertia`,
//! `objects.filters.person.min_area`. A VALUE is YAML, as in the NVR's own
//! config: `25` is a number, `true` a bool, `0.1,0.2,0.3,0.4` a string,
//! `[person, car]` a list, `null` (or nothing) removes the key from the
//! replay camera. The daemon judges the values; this module only builds
//! the object it is sent.

use crate::replay::overrides::{self, SECTIONS};
use serde_json::{Map, Value};
use std::fmt;

/// Why an assignment, a key or an overrides file is refused (a usage error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError(pub String);

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OverrideError {}

fn err(message: impl Into<String>) -> OverrideError {
    OverrideError(message.into())
}

/// The largest overrides file read: a request line holds at most 64 KiB.
pub const MAX_FILE: usize = crate::protocol::MAX_LINE;

/// A dotted KEY split into its parts; the first must be a section.
pub fn parse_key(key: &str) -> Result<Vec<String>, OverrideError> {
    let bad = |why: &str| {
        err(format!(
            "bad key '{}': {why}",
            crate::protocol::printable(key)
        ))
    };
    if key.is_empty() {
        return Err(bad("empty"));
    }
    let parts: Vec<String> = key.split('.').map(str::to_string).collect();
    for part in &parts {
        if part.is_empty() {
            return Err(bad("an empty part between dots"));
        }
        if part.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("a space or control character in it"));
        }
    }
    check_section(&parts[0]).map_err(|e| {
        err(format!(
            "bad key '{}': {e}",
            crate::protocol::printable(key)
        ))
    })?;
    Ok(parts)
}

fn check_section(section: &str) -> Result<(), OverrideError> {
    if SECTIONS.contains(&section) {
        Ok(())
    } else {
        Err(err(format!(
            "'{}' is not a section that may be overridden ({})",
            crate::protocol::printable(section),
            SECTIONS.join(", ")
        )))
    }
}

/// `KEY=VALUE` (split at the first `=`) into the key's parts and the value
/// as JSON.
pub fn parse_assignment(text: &str) -> Result<(Vec<String>, Value), OverrideError> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(err(format!(
            "'{}' is not KEY=VALUE (e.g. motion.threshold=25)",
            crate::protocol::printable(text)
        )));
    };
    let path = parse_key(key)?;
    let value = parse_yaml(value).map_err(|e| err(format!("bad value for {key}: {e}")))?;
    if path.len() == 1 && !matches!(value, Value::Object(_) | Value::Null) {
        return Err(err(format!(
            "{key} is a section: give one of its keys ({key}.KEY=VALUE) or a mapping"
        )));
    }
    Ok((path, value))
}

/// A key for `set --reset`: a dotted path as for [`parse_key`], or `*` (all).
pub fn parse_reset_key(key: &str) -> Result<String, OverrideError> {
    if key == "*" {
        return Ok(key.to_string());
    }
    if key.contains('=') {
        return Err(err(format!(
            "'{}' is not a key to reset (KEY=VALUE assignments go before --reset)",
            crate::protocol::printable(key)
        )));
    }
    parse_key(key)?;
    Ok(key.to_string())
}

/// One YAML value (a scalar, a flow or block collection) as JSON.
fn parse_yaml(text: &str) -> Result<Value, OverrideError> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| err(format!("not YAML: {e}")))?;
    yaml_to_json(yaml)
}

/// YAML to JSON (merge keys applied), by the daemon's own rule.
fn yaml_to_json(mut yaml: serde_yaml::Value) -> Result<Value, OverrideError> {
    yaml.apply_merge()
        .map_err(|e| err(format!("bad merge key: {e}")))?;
    overrides::yaml_to_json(&yaml).map_err(err)
}

/// The text of an overrides file: a mapping of sections (`motion:`,
/// `zones:` …), or what `replayctl diff` prints (`cameras:` with one
/// camera holding them). An empty file is no overrides.
pub fn parse_file(text: &str) -> Result<Value, OverrideError> {
    let mut value = parse_yaml(text)?;
    if value.is_null() {
        return Ok(Value::Object(Map::new()));
    }
    // `replayctl diff`'s output: {cameras: {<camera>: {sections}}}.
    if let Value::Object(top) = &value {
        if top.len() == 1 {
            if let Some(Value::Object(cameras)) = top.get("cameras") {
                if cameras.len() != 1 {
                    return Err(err("under 'cameras:' give exactly one camera's settings"));
                }
                value = cameras.values().next().cloned().unwrap_or(Value::Null);
                if value.is_null() {
                    return Ok(Value::Object(Map::new()));
                }
            }
        }
    }
    let Value::Object(sections) = &value else {
        return Err(err("must be a mapping of sections (motion:, zones: …)"));
    };
    for (section, settings) in sections {
        check_section(section)?;
        if !matches!(settings, Value::Object(_) | Value::Null) {
            return Err(err(format!("{section}: must be a mapping")));
        }
    }
    Ok(value)
}

/// Deep merge: maps merge key by key, anything else in `over` (a list, a
/// scalar, `null`) replaces what `base` has.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// The nested object that sets `path` to `value`.
fn nest(path: &[String], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, key| {
        let mut map = Map::new();
        map.insert(key.clone(), inner);
        Value::Object(map)
    })
}

/// The overrides a command line asks for: the file's, then each assignment
/// merged over them in order (a later `--set` of the same key wins). `None`
/// when there is nothing.
pub fn build(file: Option<Value>, assignments: &[(Vec<String>, Value)]) -> Option<Value> {
    let mut out = file.unwrap_or_else(|| Value::Object(Map::new()));
    for (path, value) in assignments {
        merge(&mut out, nest(path, value.clone()));
    }
    match &out {
        Value::Object(map) if map.is_empty() => None,
        _ => Some(out),
    }
}

/// Whether overrides hold anything.
pub fn is_empty(overrides: Option<&Value>) -> bool {
    match overrides {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(_) => false,
    }
}

/// Only the named sections (all when `sections` is empty).
pub fn select(overrides: &Value, sections: &[String]) -> Value {
    overrides::restrict(overrides, sections)
}

/// A value on one line: strings quoted, collections in JSON's flow form.
pub fn compact(value: &Value) -> String {
    value.to_string()
}

/// `motion.threshold: 30` per leaf: nested maps flattened into dotted keys,
/// lists and scalars kept whole, an empty map shown as `{}`.
pub fn leaf_lines(value: &Value) -> Vec<String> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => out.push(format!("{prefix}: {}", compact(other))),
        }
    }
    let mut out = Vec::new();
    if let Value::Object(map) = value {
        if !map.is_empty() {
            walk("", value, &mut out);
        }
    } else if !value.is_null() {
        out.push(compact(value));
    }
    out
}

/// A value as block YAML (what goes into the NVR's config file), ending
/// in a newline.
pub fn to_yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|_| format!("{value}\n"))
}

/// What `replayctl diff` prints: the overrides under the source camera, as
/// they would be pasted into the NVR's config (the daemon's own rendering,
/// which `apply` with the file publisher sends back too).
pub fn paste_yaml(source_camera: &str, overrides: &Value) -> String {
    overrides::paste_yaml(source_camera, overrides)
}

#[cfg(test)]
mod tests;
