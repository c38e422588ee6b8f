//! The replay camera's configuration: build from the source camera, validate (SPEC §4). Pure.
//!
//! Values are moved as parsed `serde_yaml::Value`s and never re-formatted:
//! the NVR decides "relative or pixels" by comparing coordinate *strings*
//! with "1.0", so a string must leave here exactly as it came in.

use crate::nvr::config::{describe_key, describe_kind, NvrConfig};
use serde_yaml::{Mapping, Value};
use std::path::Path;

use super::names;
use super::overrides;
use super::session::Tuning;

/// ffmpeg input arguments of the replay camera at speed 1: real-time pace,
/// endless loop, and timestamps regenerated at each loop so the NVR sees a
/// live feed.
pub const REPLAY_INPUT_ARGS: &str = "-re -stream_loop -1 -fflags +genpts";

/// The input arguments at `speed` (SPEC §2 "speed"): `-re` at 1, else
/// `-readrate <speed>` (`4`, `0.25`: the shortest form).
pub fn input_args(speed: f64) -> String {
    if speed == 1.0 {
        REPLAY_INPUT_ARGS.to_string()
    } else {
        format!(
            "-readrate {} -stream_loop -1 -fflags +genpts",
            overrides::format_speed(speed)
        )
    }
}

/// The NVR's tracked objects when `objects.track` is not written anywhere.
pub const DEFAULT_TRACKED_OBJECTS: [&str; 1] = ["person"];

/// Sections copied from the source camera's effective settings, in the
/// order they appear in the published file: the ones overrides may touch.
const COPIED_SECTIONS: [&str; 6] = super::overrides::SECTIONS;

/// The parts of `objects` that tune detection. The rest (`genai`) would send
/// replayed frames to a GenAI provider, which is not what a replay is for;
/// the NVR's own replay copies exactly these three.
const COPIED_OBJECT_FIELDS: [&str; 3] = ["track", "mask", "filters"];

/// Fields the NVR adds at run time, dropped wherever a config carries them
/// (a config dumped from a running NVR has them; a file must not).
const RUNTIME_FIELDS: [&str; 4] = [
    "enabled_in_config",
    "raw_coordinates",
    "raw_mask",
    "rasterized_mask",
];
const RUNTIME_ZONE_FIELDS: [&str; 2] = ["contour", "color"];
const RUNTIME_MOTION_FIELDS: [&str; 1] = ["frame_shape"];

/// The ffmpeg input roles the NVR knows.
const ROLES: [&str; 3] = ["detect", "record", "audio"];

/// A config the NVR would refuse; Display is "FIELD: message".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CameraError {
    pub field: String,
    pub message: String,
}

impl CameraError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> CameraError {
        CameraError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The replay camera's body (the value under `cameras.<replay name>`): the
/// source's effective settings with the tuning's overrides merged over them
/// (their values checked first, errors naming `overrides.<field>`), read at
/// the tuning's speed.
pub fn build(
    nvr: &NvrConfig,
    source: &str,
    clip: &Path,
    tuning: &Tuning,
) -> Result<serde_yaml::Mapping, CameraError> {
    overrides::check_speed(tuning.speed).map_err(|m| CameraError::new("speed", m))?;
    if let Some(value) = &tuning.overrides {
        overrides::check_shape(value).map_err(|e| CameraError {
            field: e.field,
            message: e.message,
        })?;
    }
    if !names::is_valid(source) {
        return Err(CameraError::new(
            "camera",
            format!("{source:?} is not a valid camera name (letters, digits, '_' and '-' only)"),
        ));
    }
    if source.starts_with(names::prefix()) {
        return Err(CameraError::new(
            "camera",
            format!(
                "{source:?} is a replay camera ({}*); replay its source camera instead",
                names::prefix()
            ),
        ));
    }
    let mut effective = nvr.effective_camera(source).ok_or_else(|| {
        CameraError::new(
            "camera",
            format!(
                "{source:?} is not a camera of the NVR config {}",
                nvr.path().display()
            ),
        )
    })?;
    if let Some(value) = &tuning.overrides {
        overrides::merge(&mut effective, value);
    }
    let clip = clip.to_str().ok_or_else(|| {
        CameraError::new(
            "ffmpeg.inputs[0].path",
            format!("the clip path {} is not valid UTF-8", clip.display()),
        )
    })?;

    let mut camera = Mapping::new();
    camera.insert("enabled".into(), true.into());
    camera.insert("ffmpeg".into(), replay_ffmpeg(clip, tuning.speed));
    for section in COPIED_SECTIONS {
        let Some(value) = effective.get(section) else {
            continue;
        };
        let mut value = value.clone();
        strip_runtime_fields(&mut value);
        match (section, &mut value) {
            ("detect", _) => value = detect_enabled(value),
            ("objects", Value::Mapping(objects)) => {
                objects.retain(|k, _| {
                    k.as_str()
                        .is_some_and(|k| COPIED_OBJECT_FIELDS.contains(&k))
                });
                if objects.is_empty() {
                    continue;
                }
            }
            ("zones", Value::Mapping(zones)) => {
                for zone in zones.values_mut() {
                    remove_fields(zone, &RUNTIME_ZONE_FIELDS);
                }
            }
            ("motion", motion) => remove_fields(motion, &RUNTIME_MOTION_FIELDS),
            _ => {}
        }
        camera.insert(section.into(), value);
    }
    // A source camera without any detect settings still needs detection on.
    if !camera.contains_key("detect") {
        camera.insert("detect".into(), detect_enabled(Value::Null));
    }
    for section in ["record", "snapshots", "birdseye", "audio"] {
        camera.insert(section.into(), disabled());
    }
    let mut review = Mapping::new();
    review.insert("alerts".into(), disabled());
    review.insert("detections".into(), disabled());
    camera.insert("review".into(), Value::Mapping(review));
    Ok(camera)
}

fn replay_ffmpeg(clip: &str, speed: f64) -> Value {
    let mut input = Mapping::new();
    input.insert("path".into(), clip.into());
    input.insert("roles".into(), Value::Sequence(vec!["detect".into()]));
    input.insert("input_args".into(), input_args(speed).into());
    let mut ffmpeg = Mapping::new();
    ffmpeg.insert(
        "inputs".into(),
        Value::Sequence(vec![Value::Mapping(input)]),
    );
    // The camera's hwaccel preset is chosen for its stream's codec, which the
    // clip need not share; an explicit empty list also keeps the NVR's global
    // preset from being merged in.
    ffmpeg.insert("hwaccel_args".into(), Value::Sequence(Vec::new()));
    Value::Mapping(ffmpeg)
}

/// A replay camera exists to run detection, whatever the source camera says.
fn detect_enabled(detect: Value) -> Value {
    let mut detect = match detect {
        Value::Mapping(detect) => detect,
        _ => Mapping::new(),
    };
    detect.insert("enabled".into(), true.into());
    Value::Mapping(detect)
}

fn disabled() -> Value {
    let mut section = Mapping::new();
    section.insert("enabled".into(), false.into());
    Value::Mapping(section)
}

fn remove_fields(value: &mut Value, fields: &[&str]) {
    if let Value::Mapping(map) = value {
        map.retain(|k, _| !k.as_str().is_some_and(|k| fields.contains(&k)));
    }
}

fn strip_runtime_fields(value: &mut Value) {
    remove_fields(value, &RUNTIME_FIELDS);
    match value {
        Value::Mapping(map) => {
            map.values_mut().for_each(strip_runtime_fields);
        }
        Value::Sequence(items) => items.iter_mut().for_each(strip_runtime_fields),
        Value::Tagged(tagged) => strip_runtime_fields(&mut tagged.value),
        _ => {}
    }
}

/// [`validate`], with an error on a field the overrides set named as
/// `overrides.<field>` (SPEC §2 "overrides").
pub fn validate_tuned(
    nvr: &NvrConfig,
    source: &str,
    name: &str,
    camera: &serde_yaml::Mapping,
    tuning: &Tuning,
) -> Result<(), CameraError> {
    validate(nvr, name, camera).map_err(|e| {
        let effective = nvr.effective_camera(source).unwrap_or_default();
        let in_source = |path: &[String]| {
            let Some((first, rest)) = path.split_first() else {
                return false;
            };
            let mut node = effective.get(first.as_str());
            for name in rest {
                node = node.and_then(|n| n.get(name.as_str()));
            }
            node.is_some()
        };
        match overrides::blame(tuning.overrides.as_ref(), &e.field, in_source) {
            Some(field) => CameraError {
                field,
                message: e.message,
            },
            None => e,
        }
    })
}

/// Refuses what the NVR would refuse, merged into `nvr`.
pub fn validate(
    nvr: &NvrConfig,
    name: &str,
    camera: &serde_yaml::Mapping,
) -> Result<(), CameraError> {
    if !names::is_valid(name) {
        return Err(CameraError::new(
            "name",
            format!("{name:?} is not a valid camera name (letters, digits, '_' and '-' only)"),
        ));
    }
    if nvr.has_camera(name) {
        return Err(CameraError::new(
            "name",
            format!(
                "the NVR config {} already defines a camera named {name:?}",
                nvr.path().display()
            ),
        ));
    }
    // What the NVR will work with once the camera sits in its config.
    let effective = nvr.merge_globals(camera);
    let roles = check_inputs(&effective)?;
    for (section, role) in [("record", "record"), ("audio", "audio")] {
        if enabled(nvr, &effective, section, false)? && !roles.iter().any(|r| r == role) {
            return Err(CameraError::new(
                format!("{section}.enabled"),
                format!("{section} is enabled but no ffmpeg input has the {role} role"),
            ));
        }
    }
    if enabled(nvr, &effective, "detect", true)? && !enabled(nvr, &effective, "motion", true)? {
        return Err(CameraError::new(
            "motion.enabled",
            "motion detection is disabled while object detection is enabled; the NVR needs motion to detect objects",
        ));
    }
    check_masks(&effective)?;
    let track = tracked_objects(&effective)?;
    check_zones(nvr, name, &effective, &track)?;
    for section in ["lpr", "face_recognition"] {
        let global = nvr
            .global_section(section)
            .and_then(|g| g.get("enabled"))
            .map(|v| {
                as_bool(v).ok_or_else(|| not_a_bool(&format!("{section}.enabled (global)"), v))
            })
            .transpose()?
            .unwrap_or(false);
        if enabled(nvr, &effective, section, false)? && !global {
            return Err(CameraError::new(
                format!("{section}.enabled"),
                format!(
                    "{section} is enabled on the camera but not in the global `{section}` section of {}; the NVR refuses that",
                    nvr.path().display()
                ),
            ));
        }
    }
    try_published_document(name, camera).map(|_| ())
}

/// The roles of the camera's inputs, refusing what the NVR refuses.
fn check_inputs(camera: &Mapping) -> Result<Vec<String>, CameraError> {
    let inputs = match camera.get("ffmpeg").and_then(|f| f.get("inputs")) {
        Some(Value::Sequence(inputs)) if !inputs.is_empty() => inputs,
        Some(Value::Sequence(_)) | None | Some(Value::Null) => {
            return Err(CameraError::new(
                "ffmpeg.inputs",
                "no ffmpeg input: the NVR needs one with the detect role",
            ))
        }
        Some(other) => {
            return Err(CameraError::new(
                "ffmpeg.inputs",
                format!("must be a list of inputs, found {}", describe_kind(other)),
            ))
        }
    };
    let mut roles: Vec<String> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let field = format!("ffmpeg.inputs[{i}]");
        let Value::Mapping(input) = input else {
            return Err(CameraError::new(
                field,
                format!(
                    "must be a mapping with path and roles, found {}",
                    describe_kind(input)
                ),
            ));
        };
        match input.get("path") {
            Some(Value::String(path)) if !path.is_empty() => {}
            _ => {
                return Err(CameraError::new(
                    format!("{field}.path"),
                    "missing or empty",
                ))
            }
        }
        let Some(Value::Sequence(input_roles)) = input.get("roles") else {
            return Err(CameraError::new(
                format!("{field}.roles"),
                "must be a list of roles",
            ));
        };
        for role in input_roles {
            let role = match role.as_str() {
                Some(role) if ROLES.contains(&role) => role,
                _ => {
                    return Err(CameraError::new(
                        format!("{field}.roles"),
                        format!(
                            "unknown role {} (the roles are detect, record and audio)",
                            describe_key(role)
                        ),
                    ))
                }
            };
            if roles.iter().any(|r| r == role) {
                return Err(CameraError::new(
                    format!("{field}.roles"),
                    format!("the {role} role is given to two inputs; each role may be used once"),
                ));
            }
            roles.push(role.to_string());
        }
    }
    if !roles.iter().any(|r| r == "detect") {
        return Err(CameraError::new(
            "ffmpeg.inputs",
            "no input has the detect role",
        ));
    }
    Ok(roles)
}

/// `<section>.enabled` as the NVR sees it: the camera's (already merged with
/// the five propagated sections), else the global section's, else `default`.
fn enabled(
    nvr: &NvrConfig,
    camera: &Mapping,
    section: &str,
    default: bool,
) -> Result<bool, CameraError> {
    let field = format!("{section}.enabled");
    if let Some(value) = camera.get(section).and_then(|s| s.get("enabled")) {
        return as_bool(value).ok_or_else(|| not_a_bool(&field, value));
    }
    match nvr.global_section(section).and_then(|s| s.get("enabled")) {
        Some(value) => {
            as_bool(value).ok_or_else(|| not_a_bool(&format!("{field} (global)"), value))
        }
        None => Ok(default),
    }
}

/// A boolean as the NVR's validation accepts one (pydantic's lax mode).
fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn not_a_bool(field: &str, value: &Value) -> CameraError {
    CameraError::new(
        field,
        format!("must be true or false, found {}", describe_kind(value)),
    )
}

/// `objects.track` (merged with the global one), or the NVR's default.
fn tracked_objects(camera: &Mapping) -> Result<Vec<String>, CameraError> {
    match camera.get("objects").and_then(|o| o.get("track")) {
        None => Ok(DEFAULT_TRACKED_OBJECTS
            .iter()
            .map(|s| s.to_string())
            .collect()),
        Some(Value::Sequence(labels)) => labels
            .iter()
            .map(|label| {
                label.as_str().map(str::to_string).ok_or_else(|| {
                    CameraError::new(
                        "objects.track",
                        format!("labels must be strings, found {}", describe_kind(label)),
                    )
                })
            })
            .collect(),
        Some(other) => Err(CameraError::new(
            "objects.track",
            format!("must be a list of labels, found {}", describe_kind(other)),
        )),
    }
}

fn check_zones(
    nvr: &NvrConfig,
    name: &str,
    camera: &Mapping,
    track: &[String],
) -> Result<(), CameraError> {
    // Zones and cameras share one name space in the NVR: a zone of another
    // camera named like this one is refused as well.
    for other in nvr.camera_names() {
        if let Some(Value::Mapping(zones)) = nvr.camera(&other).and_then(|c| c.get("zones")) {
            if zones.contains_key(name) {
                return Err(CameraError::new(
                    "name",
                    format!("camera {other:?} has a zone named {name:?}; zones and cameras cannot share names"),
                ));
            }
        }
    }
    let zones = match camera.get("zones") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Mapping(zones)) => zones,
        Some(other) => {
            return Err(CameraError::new(
                "zones",
                format!(
                    "must be a mapping of zone names to zones, found {}",
                    describe_kind(other)
                ),
            ))
        }
    };
    let cameras = nvr.camera_names();
    for (zone_name, zone) in zones {
        let Some(zone_name) = zone_name.as_str() else {
            return Err(CameraError::new(
                "zones",
                format!(
                    "zone names must be strings, found {}",
                    describe_key(zone_name)
                ),
            ));
        };
        let field = format!("zones.{zone_name}");
        if zone_name == name || cameras.iter().any(|c| c == zone_name) {
            return Err(CameraError::new(
                field,
                format!("the zone is named like the camera {zone_name:?}; zones and cameras cannot share names"),
            ));
        }
        let Value::Mapping(zone) = zone else {
            return Err(CameraError::new(
                field,
                format!(
                    "must be a mapping with coordinates, found {}",
                    describe_kind(zone)
                ),
            ));
        };
        let coordinates_field = format!("{field}.coordinates");
        match zone.get("coordinates") {
            Some(Value::String(points)) => {
                check_polygon(&coordinates_field, &flat_polygon(points))?
            }
            Some(Value::Sequence(points)) => check_polygon(
                &coordinates_field,
                &point_list_polygon(&coordinates_field, points)?,
            )?,
            None | Some(Value::Null) => {
                return Err(CameraError::new(
                    coordinates_field,
                    "missing: a zone needs its polygon",
                ))
            }
            Some(other) => {
                return Err(CameraError::new(
                    coordinates_field,
                    format!(
                        "must be a string \"x,y,x,y,...\" or a list of \"x,y\" points, found {}",
                        describe_kind(other)
                    ),
                ))
            }
        }
        check_zone_objects(&format!("{field}.objects"), zone.get("objects"), track)?;
        if let Some(Value::Mapping(filters)) = zone.get("filters") {
            for (label, filter) in filters {
                if let Some(mask) = filter.get("mask") {
                    check_mask(
                        &format!("{field}.filters.{}.mask", describe_key(label)),
                        mask,
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn check_zone_objects(
    field: &str,
    objects: Option<&Value>,
    track: &[String],
) -> Result<(), CameraError> {
    let labels: Vec<&Value> = match objects {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Sequence(labels)) => labels.iter().collect(),
        Some(label @ Value::String(_)) => vec![label],
        Some(other) => {
            return Err(CameraError::new(
                field,
                format!("must be a list of labels, found {}", describe_kind(other)),
            ))
        }
    };
    for label in labels {
        let Some(label) = label.as_str() else {
            return Err(CameraError::new(
                field,
                format!("labels must be strings, found {}", describe_kind(label)),
            ));
        };
        if !track.iter().any(|t| t == label) {
            return Err(CameraError::new(
                field,
                format!(
                    "{label:?} is not tracked: objects.track is [{}]",
                    track.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn check_masks(camera: &Mapping) -> Result<(), CameraError> {
    if let Some(mask) = camera.get("motion").and_then(|m| m.get("mask")) {
        check_mask("motion.mask", mask)?;
    }
    let Some(objects) = camera.get("objects") else {
        return Ok(());
    };
    if let Some(mask) = objects.get("mask") {
        check_mask("objects.mask", mask)?;
    }
    if let Some(Value::Mapping(filters)) = objects.get("filters") {
        for (label, filter) in filters {
            if let Some(mask) = filter.get("mask") {
                check_mask(
                    &format!("objects.filters.{}.mask", describe_key(label)),
                    mask,
                )?;
            }
        }
    }
    Ok(())
}

/// A mask in any form the NVR has accepted: a string (one polygon), a list
/// of strings (one polygon each), or named masks (`{id: {coordinates, enabled}}`).
fn check_mask(field: &str, mask: &Value) -> Result<(), CameraError> {
    match mask {
        Value::Mapping(named) => {
            for (id, entry) in named {
                let entry_field = format!("{field}.{}", describe_key(id));
                match entry {
                    Value::Null => {}
                    Value::Mapping(entry) => {
                        if let Some(coordinates) = entry.get("coordinates") {
                            check_mask_polygons(
                                &format!("{entry_field}.coordinates"),
                                coordinates,
                            )?;
                        }
                    }
                    other => {
                        return Err(CameraError::new(
                            entry_field,
                            format!(
                                "must be a mapping with coordinates, found {}",
                                describe_kind(other)
                            ),
                        ))
                    }
                }
            }
            Ok(())
        }
        other => check_mask_polygons(field, other),
    }
}

fn check_mask_polygons(field: &str, mask: &Value) -> Result<(), CameraError> {
    match mask {
        Value::Null => Ok(()),
        Value::String(polygon) if polygon.is_empty() => Ok(()),
        Value::String(polygon) => check_polygon(field, &flat_polygon(polygon)),
        Value::Sequence(polygons) => {
            let mut first_is_pixels = None;
            for (i, polygon) in polygons.iter().enumerate() {
                let field = format!("{field}[{i}]");
                let polygon = match polygon {
                    Value::String(p) if !p.is_empty() => flat_polygon(p),
                    Value::String(_) => return Err(CameraError::new(field, "empty polygon")),
                    other => {
                        return Err(CameraError::new(
                            field,
                            format!(
                                "must be a string \"x,y,x,y,...\", found {}",
                                describe_kind(other)
                            ),
                        ))
                    }
                };
                check_polygon(&field, &polygon)?;
                // The NVR converts pixel polygons of a list only when the
                // first one is in pixels; otherwise it refuses the others.
                let is_pixels = polygon.pixel_marker.is_some();
                let first = *first_is_pixels.get_or_insert(is_pixels);
                if is_pixels && !first {
                    return Err(CameraError::new(
                        field,
                        "this polygon is in pixels but the first one of the list is relative; the NVR only converts pixel polygons when the first one is in pixels too",
                    ));
                }
            }
            Ok(())
        }
        other => Err(CameraError::new(
            field,
            format!(
                "must be a string \"x,y,x,y,...\" or a list of them, found {}",
                describe_kind(other)
            ),
        )),
    }
}

/// One polygon's values, and the value (if any) that makes the NVR read
/// the polygon as pixels.
///
/// The NVR's rule, reproduced exactly (relative vs pixel): a polygon is in
/// pixels when any value compares above "1.0" *as text* (Python's
/// `p > "1.0"`; for a zone's list of "x,y" points only the x values are
/// compared), and every value is then read with `int()`; otherwise every
/// value is read with `float()` as a fraction of the frame. Hence:
/// - "0.5", "1", "1.0", "0" are relative; "2", "10", "1280" are pixels;
/// - "1.5" or "1.000" make the polygon pixels and, not being whole numbers,
///   get it refused: that is the "mix of relative and pixel values", e.g.
///   "0.5,0.5,1280,0.5,..." where "0.5" cannot be read as a pixel;
/// - "01.5" or "-0.1" compare below "1.0" and are accepted as relative
///   points off the frame, as the NVR accepts them.
struct Polygon<'a> {
    values: Vec<&'a str>,
    pixel_marker: Option<&'a str>,
}

fn flat_polygon(text: &str) -> Polygon<'_> {
    let values: Vec<&str> = text.split(',').collect();
    let pixel_marker = values.iter().copied().find(|v| *v > "1.0");
    Polygon {
        values,
        pixel_marker,
    }
}

fn point_list_polygon<'a>(field: &str, points: &'a [Value]) -> Result<Polygon<'a>, CameraError> {
    let mut values = Vec::with_capacity(points.len() * 2);
    let mut pixel_marker = None;
    for (i, point) in points.iter().enumerate() {
        let Some(point) = point.as_str() else {
            return Err(CameraError::new(
                format!("{field}[{i}]"),
                format!("must be a string \"x,y\", found {}", describe_kind(point)),
            ));
        };
        let xy: Vec<&str> = point.split(',').collect();
        let [x, y] = xy[..] else {
            return Err(CameraError::new(
                format!("{field}[{i}]"),
                format!("{point:?} is not one \"x,y\" point"),
            ));
        };
        if pixel_marker.is_none() && x > "1.0" {
            pixel_marker = Some(x);
        }
        values.push(x);
        values.push(y);
    }
    Ok(Polygon {
        values,
        pixel_marker,
    })
}

fn check_polygon(field: &str, polygon: &Polygon<'_>) -> Result<(), CameraError> {
    let count = polygon.values.len();
    if count % 2 == 1 {
        return Err(CameraError::new(
            field,
            format!("{count} values: coordinates come in x,y pairs"),
        ));
    }
    if count < 6 {
        return Err(CameraError::new(
            field,
            format!("a polygon needs at least 3 points, found {}", count / 2),
        ));
    }
    if let Some(value) = polygon
        .values
        .iter()
        .find(|v| !parse_python_float(v).is_some_and(f64::is_finite))
    {
        return Err(CameraError::new(
            field,
            format!("{value:?} is not a number"),
        ));
    }
    let Some(marker) = polygon.pixel_marker else {
        return Ok(());
    };
    if !is_python_int(marker) {
        return Err(CameraError::new(
            field,
            format!(
                "{marker:?} reads as a pixel value (the NVR compares each value with \"1.0\" as text) but is not a whole number; relative coordinates run from 0 to 1.0, pixel coordinates are whole numbers"
            ),
        ));
    }
    match polygon.values.iter().find(|v| !is_python_int(v)) {
        None => Ok(()),
        Some(value) => Err(CameraError::new(
            field,
            format!(
                "mixes relative and pixel values: {marker:?} makes the NVR read the polygon as pixels (it compares each value with \"1.0\" as text), and pixel values must be whole numbers, which {value:?} is not"
            ),
        )),
    }
}

/// Python's `int(str)`: surrounding whitespace, a sign, ASCII digits with
/// single underscores between them.
fn is_python_int(text: &str) -> bool {
    let text = text.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty()
        && strip_digit_underscores(digits).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
}

/// Python's `float(str)`: surrounding whitespace, underscores between
/// digits, exponents, "inf" and "nan".
fn parse_python_float(text: &str) -> Option<f64> {
    strip_digit_underscores(text.trim())?.parse().ok()
}

/// `text` without the underscores Python allows between two digits, or
/// `None` if an underscore stands anywhere else.
fn strip_digit_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'_' {
            let before = i.checked_sub(1).and_then(|j| bytes.get(j));
            let after = bytes.get(i + 1);
            if !before.is_some_and(u8::is_ascii_digit) || !after.is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
    }
    Some(text.replace('_', ""))
}

/// The published file's text: `{cameras: {<name>: <camera>}}` as YAML.
///
/// [`validate`] has already written the same document, so the fallback (a
/// comment naming the error, i.e. a file with no camera) is never used for
/// a validated camera; use [`try_published_document`] to see the error.
pub fn published_document(name: &str, camera: &serde_yaml::Mapping) -> String {
    try_published_document(name, camera)
        .unwrap_or_else(|e| format!("# replayd: cannot write camera {name}: {e}\n"))
}

/// [`published_document`], with the serializer's error if it has one.
pub fn try_published_document(
    name: &str,
    camera: &serde_yaml::Mapping,
) -> Result<String, CameraError> {
    let mut cameras = Mapping::new();
    cameras.insert(name.into(), Value::Mapping(camera.clone()));
    let mut document = Mapping::new();
    document.insert("cameras".into(), Value::Mapping(cameras));
    serde_yaml::to_string(&document).map_err(|e| {
        CameraError::new(
            format!("cameras.{name}"),
            format!("cannot be written as YAML: {e}"),
        )
    })
}

#[cfg(test)]
mod tests;
