//! Overrides (SPEC §2 "overrides", "update", "apply"): the operator's
//! changes to the replay camera's detection settings. Pure.
//!
//! Overrides are JSON (the protocol's `overrides` object): a mapping of
//! sections, nested mappings below. A `null` removes the key it names from
//! the replay camera. What is here:
//! (`replayctl --set KEY=VALUE` builds them client-side: `client::overrides`.)
//! - the checks: known sections ([`check_shape`]) and the value types the
//!   NVR wants for the fields replayd knows ([`check_types`]);
//! - the session's overrides over time: [`accumulate`], [`reset`];
//! - the camera build: [`merge`] over the source's effective settings;
//! - what changed: [`changed_sections`];
//! - taking them back to the source camera: [`paste_yaml`] and [`apply_plan`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use serde_yaml::Mapping;

use crate::protocol::BeforeAfter;

/// The sections an override may touch: the detection settings a replay
/// camera copies from its source (SPEC §4).
pub const SECTIONS: [&str; 6] = [
    "detect",
    "objects",
    "zones",
    "motion",
    "lpr",
    "face_recognition",
];

/// Slowest and fastest replay (SPEC §2 "speed").
pub const MIN_SPEED: f64 = 0.25;
pub const MAX_SPEED: f64 = 16.0;

/// The key [`apply_plan`] reports for a whole section removed by `null`.
pub const WHOLE_SECTION: &str = "*";

/// Why overrides are refused; Display names the field as
/// `overrides.<path>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OverrideError {
    pub field: String,
    pub message: String,
}

impl OverrideError {
    fn at(path: &[String], message: impl Into<String>) -> OverrideError {
        OverrideError {
            field: field_name(path),
            message: message.into(),
        }
    }
}

/// `overrides.a.b` for the path `[a, b]`.
fn field_name(path: &[String]) -> String {
    if path.is_empty() {
        "overrides".to_string()
    } else {
        format!("overrides.{}", path.join("."))
    }
}

/// The overrides' shape: a mapping of known sections, each a mapping (or
/// `null`, which removes the section's settings), with values of the types
/// the NVR wants ([`check_types`]).
pub fn check_shape(overrides: &Value) -> Result<(), OverrideError> {
    let Value::Object(sections) = overrides else {
        return Err(OverrideError {
            field: "overrides".into(),
            message: "must be a mapping of sections".into(),
        });
    };
    for (section, value) in sections {
        if !SECTIONS.contains(&section.as_str()) {
            return Err(OverrideError {
                field: format!("overrides.{section}"),
                message: format!(
                    "only the detection sections may be overridden ({})",
                    SECTIONS.join(", ")
                ),
            });
        }
        if !matches!(value, Value::Object(_) | Value::Null) {
            return Err(OverrideError {
                field: format!("overrides.{section}"),
                message: "must be a mapping".into(),
            });
        }
    }
    check_types(overrides)
}

/// A speed a replay may run at: finite, 0.25 to 16.
pub fn check_speed(speed: f64) -> Result<(), String> {
    if speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(format!(
            "speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}"
        ))
    }
}

/// A dotted path of non-empty names.
fn parse_path(key: &str) -> Result<Vec<String>, OverrideError> {
    let path: Vec<String> = key.split('.').map(str::to_string).collect();
    if key.is_empty() || path.iter().any(String::is_empty) {
        return Err(OverrideError {
            field: "overrides".into(),
            message: format!(
                "{:?} is not a dotted path such as motion.threshold",
                crate::protocol::printable(key)
            ),
        });
    }
    Ok(path)
}

/// A YAML number as JSON: integers stay integers; `None` for what JSON
/// cannot hold (`.nan`, `.inf`).
pub fn number_to_json(n: &serde_yaml::Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        Some(Value::from(i))
    } else if let Some(u) = n.as_u64() {
        Some(Value::from(u))
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
    }
}

/// A YAML value as JSON: string keys only, no tags, finite numbers.
pub fn yaml_to_json(value: &serde_yaml::Value) -> Result<Value, String> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => {
            number_to_json(n).ok_or_else(|| format!("{n} is not a finite number"))?
        }
        serde_yaml::Value::String(s) => Value::String(s.clone()),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .iter()
                .map(yaml_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let key = match key {
                    serde_yaml::Value::String(k) => k.clone(),
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    _ => return Err("mapping keys must be names".to_string()),
                };
                out.insert(key, yaml_to_json(item)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => {
            return Err(format!("the YAML tag {} is not a value", tagged.tag))
        }
    })
}

/// JSON as a YAML value (numbers stay integers where they are).
pub fn json_to_yaml(value: &Value) -> serde_yaml::Value {
    match value {
        Value::Null => serde_yaml::Value::Null,
        Value::Bool(b) => serde_yaml::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_yaml::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_yaml::Value::from(u)
            } else {
                serde_yaml::Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => serde_yaml::Value::String(s.clone()),
        Value::Array(items) => {
            serde_yaml::Value::Sequence(items.iter().map(json_to_yaml).collect())
        }
        Value::Object(map) => serde_yaml::Value::Mapping(
            map.iter()
                .map(|(k, v)| (serde_yaml::Value::String(k.clone()), json_to_yaml(v)))
                .collect(),
        ),
    }
}

// ---- the session's overrides ----------------------------------------------

/// The session's overrides after an update's `new` ones (cumulative):
/// mappings merge key by key, anything else replaces, and a `null` is kept
/// (it removes that key from the replay camera). Empty mappings are
/// dropped; `None` when nothing is left.
pub fn accumulate(session: Option<&Value>, new: &Value) -> Option<Value> {
    let mut merged = session
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    accumulate_into(&mut merged, new);
    prune(merged)
}

fn accumulate_into(base: &mut Value, new: &Value) {
    match (base, new) {
        (Value::Object(base), Value::Object(new)) => {
            for (key, value) in new {
                match base.get_mut(key) {
                    Some(existing @ Value::Object(_)) if value.is_object() => {
                        accumulate_into(existing, value)
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, new) => *base = new.clone(),
    }
}

/// Without empty mappings (they override nothing); `None` if nothing is left.
fn prune(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let map: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::Object(_) => prune(v).map(|v| (k, v)),
                    other => Some((k, other)),
                })
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other),
    }
}

/// The overrides without those at `paths` (dotted; `"*"` drops all), so
/// the source's values return; sections left empty go. A path with no
/// override at or below it is an error (a typo would otherwise pass).
pub fn reset(overrides: Option<&Value>, paths: &[String]) -> Result<Option<Value>, OverrideError> {
    if paths.iter().any(|p| p == "*") {
        return Ok(None);
    }
    let mut current = overrides
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    for key in paths {
        let path = parse_path(key).map_err(|e| OverrideError {
            field: "reset".into(),
            message: e.message,
        })?;
        if !remove_path(&mut current, &path) {
            return Err(OverrideError {
                field: "reset".into(),
                message: format!("{} is not overridden: nothing to reset", field_name(&path)),
            });
        }
    }
    Ok(prune(current))
}

fn remove_path(value: &mut Value, path: &[String]) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    match path {
        [] => false,
        [last] => map.remove(last).is_some(),
        [first, rest @ ..] => map.get_mut(first).is_some_and(|v| remove_path(v, rest)),
    }
}

// ---- the camera build -----------------------------------------------------

/// Deep-merges `overrides` over `base` (the camera build's effective
/// settings): mappings merge key by key, lists and scalars replace, `null`
/// removes the key.
pub fn merge(base: &mut Mapping, overrides: &Value) {
    let Value::Object(overrides) = overrides else {
        return;
    };
    for (key, value) in overrides {
        let key = serde_yaml::Value::String(key.clone());
        match value {
            Value::Null => {
                base.remove(&key);
            }
            Value::Object(_) => {
                let entry = base
                    .entry(key)
                    .or_insert_with(|| serde_yaml::Value::Mapping(Mapping::new()));
                if !entry.is_mapping() {
                    *entry = serde_yaml::Value::Mapping(Mapping::new());
                }
                if let serde_yaml::Value::Mapping(child) = entry {
                    merge(child, value);
                }
            }
            other => {
                base.insert(key, json_to_yaml(other));
            }
        }
    }
}

/// The top-level keys (sections) whose values differ between two builds of
/// the replay camera, in the order of `new`, then those `new` lost.
pub fn changed_sections(old: &Mapping, new: &Mapping) -> Vec<String> {
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    changed.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .filter_map(|k| k.as_str().map(str::to_string)),
    );
    changed
}

/// The overridden field a validation error on `field` (a path inside the
/// camera, `zones.yard.coordinates`, `objects.filters.car.mask[1]`) is
/// about, as `overrides.<path>`; `None` when the source's own settings are
/// at fault: no override is at, above or below the field, and none created
/// the mapping it is missing from (`in_source` says whether a path exists
/// in the source camera's effective settings).
pub fn blame(
    overrides: Option<&Value>,
    field: &str,
    in_source: impl Fn(&[String]) -> bool,
) -> Option<String> {
    let overrides = overrides?;
    let path: Vec<String> = field
        .split('.')
        .map(|segment| match segment.find('[') {
            Some(i) => segment[..i].to_string(),
            None => segment.to_string(),
        })
        .collect();
    let mut node = overrides;
    for (depth, name) in path.iter().enumerate() {
        match node {
            Value::Object(map) => match map.get(name) {
                Some(child) => node = child,
                // A mapping the overrides brought in (a new zone) lacks it.
                None if depth > 0 && !in_source(&path[..depth]) => {
                    return Some(format!("overrides.{field}"))
                }
                None => return None,
            },
            // A value replaced here as a whole: the override is at fault.
            _ => return Some(field_name(&path[..depth])),
        }
    }
    Some(format!("overrides.{field}"))
}

// ---- value types ----------------------------------------------------------

/// What a field the NVR validates holds (Frigate's pydantic models,
/// `frigate/config/camera/*.py`, 0.17 and 0.18).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Str,
    StrOrStrList,
    StrList,
    /// A mask: a string, a list of strings (0.17) or named masks (0.18);
    /// its polygons are checked with the camera.
    Mask,
    /// A mapping whose keys are checked below.
    Section,
}

const INT: Kind = Kind::Int {
    min: None,
    max: None,
};
const NUMBER: Kind = Kind::Number {
    min: None,
    max: None,
};

fn int(min: i64, max: Option<i64>) -> Kind {
    Kind::Int {
        min: Some(min),
        max,
    }
}

fn number(min: f64, max: Option<f64>) -> Kind {
    Kind::Number {
        min: Some(min),
        max,
    }
}

/// The kind of the field at `path`, `Err` with the reason for a field a
/// replay camera cannot take, `Ok(None)` for one replayd leaves to the NVR.
fn field_kind(path: &[&str]) -> Result<Option<Kind>, String> {
    use Kind::*;
    Ok(Some(match path {
        [_] => Section,
        ["detect", "enabled"] => Bool,
        ["detect", "width" | "height" | "fps"] => int(1, None),
        ["detect", "min_initialized"] => int(2, None),
        ["detect", "max_disappeared"] => int(0, None),
        ["detect", "annotation_offset"] => INT,
        ["detect", "stationary"] => Section,
        ["detect", "stationary", "interval" | "threshold"] => int(1, None),
        ["detect", "stationary", "classifier"] => Bool,
        ["detect", "stationary", "max_frames"] => Section,
        ["detect", "stationary", "max_frames", "default"] => int(1, None),
        ["detect", "stationary", "max_frames", "objects"] => Section,
        ["detect", "stationary", "max_frames", "objects", _] => int(1, None),

        ["motion", "enabled" | "improve_contrast"] => Bool,
        ["motion", "threshold"] => int(1, Some(255)),
        ["motion", "lightning_threshold"] => number(0.3, Some(1.0)),
        ["motion", "skip_motion_threshold"] => number(0.0, Some(1.0)),
        ["motion", "contour_area" | "frame_height" | "mqtt_off_delay"] => int(0, None),
        ["motion", "delta_alpha" | "frame_alpha"] => NUMBER,
        ["motion", "mask"] => Mask,

        ["objects", "track"] => StrList,
        ["objects", "mask"] => Mask,
        ["objects", "filters"] => Section,
        ["objects", "filters", _] => Section,
        ["objects", "filters", _, field] => return filter_kind(field),
        ["objects", other, ..] if !["track", "mask", "filters"].contains(other) => {
            return Err(format!(
                "a replay camera copies only objects.track, objects.mask and objects.filters, not objects.{other}"
            ))
        }

        ["zones", _] => Section,
        ["zones", _, "friendly_name"] => Str,
        ["zones", _, "enabled"] => Bool,
        ["zones", _, "coordinates" | "distances" | "objects"] => StrOrStrList,
        ["zones", _, "inertia"] => int(1, None),
        ["zones", _, "loitering_time"] => int(0, None),
        ["zones", _, "speed_threshold"] => number(0.1, None),
        ["zones", _, "filters"] => Section,
        ["zones", _, "filters", _] => Section,
        ["zones", _, "filters", _, field] => return filter_kind(field),

        ["lpr", "enabled"] => Bool,
        ["lpr", "expire_time"] => int(1, None),
        ["lpr", "min_area"] => INT,
        ["lpr", "enhancement"] => int(0, Some(10)),
        ["lpr", other, ..] => {
            return Err(format!(
                "a camera's lpr has only enabled, expire_time, min_area and enhancement (lpr.{other} is a global model setting)"
            ))
        }
        ["face_recognition", "enabled"] => Bool,
        ["face_recognition", "min_area"] => INT,
        ["face_recognition", other, ..] => {
            return Err(format!(
                "a camera's face_recognition has only enabled and min_area (face_recognition.{other} is a global model setting)"
            ))
        }
        _ => return Ok(None),
    }))
}

/// `FilterConfig` (objects and zones).
fn filter_kind(field: &str) -> Result<Option<Kind>, String> {
    Ok(Some(match field {
        "min_area" | "max_area" => number(0.0, None),
        "min_ratio" | "max_ratio" | "threshold" | "min_score" => NUMBER,
        "mask" => Kind::Mask,
        _ => return Ok(None),
    }))
}

/// The value types the NVR wants for the fields replayd knows (a number
/// where Frigate wants a number, `true`/`false` where it wants a boolean);
/// errors name the field as `overrides.<path>`. `null` is always allowed:
/// it removes the key. What replayd does not know is left to the NVR.
pub fn check_types(overrides: &Value) -> Result<(), OverrideError> {
    fn walk(value: &Value, path: &mut Vec<String>) -> Result<(), OverrideError> {
        if !path.is_empty() {
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            let kind = field_kind(&names).map_err(|message| OverrideError::at(path, message))?;
            if value.is_null() {
                return Ok(());
            }
            if let Some(kind) = kind {
                check_kind(kind, value).map_err(|message| OverrideError::at(path, message))?;
                if !matches!(kind, Kind::Section) {
                    return Ok(());
                }
            }
        }
        if let Value::Object(map) = value {
            for (key, child) in map {
                path.push(key.clone());
                walk(child, path)?;
                path.pop();
            }
        }
        Ok(())
    }
    walk(overrides, &mut Vec::new())
}

fn check_kind(kind: Kind, value: &Value) -> Result<(), String> {
    let found = || describe(value);
    match kind {
        Kind::Bool => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| format!("must be true or false, found {}", found())),
        Kind::Int { min, max } => {
            let Some(n) = value.as_i64() else {
                return Err(format!("must be a whole number, found {}", found()));
            };
            check_range(n as f64, min.map(|m| m as f64), max.map(|m| m as f64))
        }
        Kind::Number { min, max } => {
            let Some(n) = value.as_f64().filter(|_| value.is_number()) else {
                return Err(format!("must be a number, found {}", found()));
            };
            check_range(n, min, max)
        }
        Kind::Str => value
            .is_string()
            .then_some(())
            .ok_or_else(|| format!("must be a string, found {}", found())),
        Kind::StrOrStrList => match value {
            Value::String(_) => Ok(()),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!(
                "must be a string or a list of strings, found {}",
                found()
            )),
        },
        Kind::StrList => match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!("must be a list of strings, found {}", found())),
        },
        Kind::Mask => match value {
            Value::String(_) | Value::Object(_) => Ok(()),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!(
                "must be a polygon string, a list of them or named masks, found {}",
                found()
            )),
        },
        Kind::Section => value
            .is_object()
            .then_some(())
            .ok_or_else(|| format!("must be a mapping, found {}", found())),
    }
}

fn check_range(n: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    match (min, max) {
        (Some(min), Some(max)) if !(min..=max).contains(&n) => {
            Err(format!("must be between {min} and {max}, found {n}"))
        }
        (Some(min), None) if n < min => Err(format!("must be at least {min}, found {n}")),
        _ => Ok(()),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("the string {:?}", crate::protocol::printable(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

// ---- back to the source camera --------------------------------------------

/// The overrides as the YAML to paste under the source camera in the NVR's
/// config (`cameras:\n  front:\n    motion:\n      threshold: 30\n`). A
/// `null` says "delete this key"; a comment says so when there is one.
pub fn paste_yaml(source: &str, overrides: &Value) -> String {
    let mut camera = Mapping::new();
    camera.insert(source.into(), json_to_yaml(overrides));
    let mut document = Mapping::new();
    document.insert("cameras".into(), serde_yaml::Value::Mapping(camera));
    let text = serde_yaml::to_string(&document).unwrap_or_default();
    if has_null(overrides) {
        format!("# a key set to null is one to delete from the camera\n{text}")
    } else {
        text
    }
}

fn has_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().any(has_null),
        _ => false,
    }
}

/// The overrides restricted to `sections` (all when empty).
pub fn restrict(overrides: &Value, sections: &[String]) -> Value {
    match overrides {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| sections.is_empty() || sections.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What an apply writes into the source camera.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyPlan {
    /// Per section, per key (a dotted path inside the section), the
    /// effective value before and the one written.
    pub applied: BTreeMap<String, BTreeMap<String, BeforeAfter>>,
    /// Per section, what to send under `cameras.<source>.<section>`
    /// (config/set merges it; `""` deletes a key).
    pub patches: Vec<(String, Value)>,
    /// Overrides that cannot be written, and why (a `null` for a key only
    /// the global section sets).
    pub skipped: Vec<String>,
}

/// The apply of `overrides`' `sections` (all when empty) to the source
/// camera whose settings are `effective` (globals merged) and `own` (the
/// camera's mapping as written): each leaf that changes something, with
/// its value before; a `null` becomes `""` (delete) only where the camera
/// itself writes the key.
pub fn apply_plan(
    effective: &Mapping,
    own: &Mapping,
    overrides: &Value,
    sections: &[String],
) -> ApplyPlan {
    let mut plan = ApplyPlan::default();
    let Value::Object(map) = overrides else {
        return plan;
    };
    for section in SECTIONS {
        let Some(value) = map.get(section) else {
            continue;
        };
        if !sections.is_empty() && !sections.iter().any(|s| s == section) {
            continue;
        }
        let mut leaves = Vec::new();
        flatten(value, &mut Vec::new(), &mut leaves);
        let mut patch = Value::Object(Map::new());
        let mut keys = BTreeMap::new();
        for (path, after) in leaves {
            let full: Vec<&str> = std::iter::once(section)
                .chain(path.iter().map(String::as_str))
                .collect();
            let key = if path.is_empty() {
                WHOLE_SECTION.to_string()
            } else {
                path.join(".")
            };
            let before = lookup(effective, &full)
                .map(|v| yaml_to_json(v).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            let sent = if after.is_null() {
                if lookup(own, &full).is_none() {
                    if !before.is_null() {
                        plan.skipped.push(format!(
                            "{}: set by the global {section} section, not by the camera; delete it there",
                            full.join(".")
                        ));
                    }
                    continue;
                }
                Value::String(String::new())
            } else if before == after {
                continue;
            } else {
                after.clone()
            };
            if path.is_empty() {
                patch = sent;
            } else {
                insert_path(&mut patch, &path, sent);
            }
            keys.insert(key, BeforeAfter { before, after });
        }
        if !keys.is_empty() {
            plan.applied.insert(section.to_string(), keys);
            plan.patches.push((section.to_string(), patch));
        }
    }
    plan
}

/// Leaves of an overrides value: mappings become dotted paths; lists,
/// scalars and `null` are leaves; an empty mapping is nothing.
fn flatten(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                flatten(child, path, out);
                path.pop();
            }
        }
        leaf => out.push((path.clone(), leaf.clone())),
    }
}

fn lookup<'a>(mapping: &'a Mapping, path: &[&str]) -> Option<&'a serde_yaml::Value> {
    let (first, rest) = path.split_first()?;
    let mut node = mapping.get(*first)?;
    for name in rest {
        node = node.as_mapping()?.get(*name)?;
    }
    Some(node)
}

fn insert_path(root: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *root = value;
        return;
    };
    if !root.is_object() {
        *root = Value::Object(Map::new());
    }
    if let Value::Object(map) = root {
        insert_path(map.entry(first.clone()).or_insert(Value::Null), rest, value);
    }
}

/// `speed` as ffmpeg's `-readrate` takes it, shortest form (`4`, `0.25`).
pub fn format_speed(speed: f64) -> String {
    format!("{speed}")
}

#[cfg(test)]
mod tests;
