//! The replay camera's configuration: build from the source camera, validate (SPEC §4). Pure.
//!
//! Values are moved as parsed `serde_yaml::Value`s and never re-formatted:
//! the NVR decides "relative or pixels" by comparing coordinate *strings*
//! with "1.0", so a string must leave here exactly as it came in.

use crate::nvr::config::{describe_key, describe_kind, NvrConfig};
use serde_yaml::{Mapping, Value};
use std::path::Path;

pub const REPLAY_PREFIX: &str = "_replay_";

/// ffmpeg input arguments of the replay camera: real-time pace, endless
/// loop, and timestamps regenerated at each loop so the NVR sees a live feed.
pub const REPLAY_INPUT_ARGS: &str = "-re -stream_loop -1 -fflags +genpts";

/// The NVR's tracked objects when `objects.track` is not written anywhere.
pub const DEFAULT_TRACKED_OBJECTS: [&str; 1] = ["person"];

/// Sections copied from the source camera's effective settings, in the
/// order they appear in the published file.
const COPIED_SECTIONS: [&str; 6] = [
    "detect",
    "objects",
    "zones",
    "motion",
    "lpr",
    "face_recognition",
];

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

/// `^[a-zA-Z0-9_-]+$`
pub fn is_valid_camera_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn replay_camera_name(source: &str) -> String {
    format!("{REPLAY_PREFIX}{source}")
}

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

/// The replay camera's body (the value under `cameras.<replay name>`).
pub fn build(
    nvr: &NvrConfig,
    source: &str,
    clip: &Path,
) -> Result<serde_yaml::Mapping, CameraError> {
    if !is_valid_camera_name(source) {
        return Err(CameraError::new(
            "camera",
            format!("{source:?} is not a valid camera name (letters, digits, '_' and '-' only)"),
        ));
    }
    if source.starts_with(REPLAY_PREFIX) {
        return Err(CameraError::new(
            "camera",
            format!("{source:?} is a replay camera ({REPLAY_PREFIX}*); replay its source camera instead"),
        ));
    }
    let effective = nvr.effective_camera(source).ok_or_else(|| {
        CameraError::new(
            "camera",
            format!(
                "{source:?} is not a camera of the NVR config {}",
                nvr.path().display()
            ),
        )
    })?;
    let clip = clip.to_str().ok_or_else(|| {
        CameraError::new(
            "ffmpeg.inputs[0].path",
            format!("the clip path {} is not valid UTF-8", clip.display()),
        )
    })?;

    let mut camera = Mapping::new();
    camera.insert("enabled".into(), true.into());
    camera.insert("ffmpeg".into(), replay_ffmpeg(clip));
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

fn replay_ffmpeg(clip: &str) -> Value {
    let mut input = Mapping::new();
    input.insert("path".into(), clip.into());
    input.insert("roles".into(), Value::Sequence(vec!["detect".into()]));
    input.insert("input_args".into(), REPLAY_INPUT_ARGS.into());
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

/// Refuses what the NVR would refuse, merged into `nvr`.
pub fn validate(
    nvr: &NvrConfig,
    name: &str,
    camera: &serde_yaml::Mapping,
) -> Result<(), CameraError> {
    if !is_valid_camera_name(name) {
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
mod tests {
    use super::*;

    /// A production-like NVR config: globals for every propagated section,
    /// model settings in lpr / face_recognition, anchors and merge keys.
    const FRIGATE: &str = r#"
mqtt:
  host: 192.168.1.10
database:
  path: /config/frigate.db
detectors:
  coral:
    type: edgetpu
    device: usb
ffmpeg:
  hwaccel_args: preset-vaapi
detect:
  enabled: true
  fps: 5
  stationary:
    interval: 50
    threshold: 50
objects:
  track: [person, car, dog]
  filters:
    person:
      min_score: 0.55
      threshold: 0.7
  genai:
    enabled: true
motion:
  threshold: 30
  contour_area: 10
  improve_contrast: true
record:
  enabled: true
  retain:
    days: 7
    mode: motion
snapshots:
  enabled: true
audio:
  enabled: true
review:
  alerts:
    labels: [person, car]
birdseye:
  enabled: true
  mode: objects
lpr:
  enabled: true
  model_size: small
  detection_threshold: 0.7
  min_area: 1000
  enhancement: 2
face_recognition:
  enabled: false
  model_size: small
  min_area: 500
cameras:
  front_door:
    ffmpeg:
      inputs:
        - path: rtsp://user:pass@10.0.0.20:554/stream1
          roles: [record]
        - path: rtsp://user:pass@10.0.0.20:554/stream2
          roles: [detect, audio]
    detect: &front_detect
      width: 1280
      height: 720
      fps: 10
      min_initialized: 3
      max_disappeared: 25
    objects:
      track: [person, car]
      mask: 0.0,0.0,0.3,0.0,0.3,0.1,0.0,0.1
      filters:
        car:
          min_score: 0.6
          min_area: 3000
          mask:
            - 0.9,0.9,1.0,0.9,1.0,1.0,0.9,1.0
      genai:
        enabled: true
        prompt: Describe the car
    motion:
      threshold: 40
      mask:
        - 0.0,0.0,1.0,0.0,1.0,0.06,0.0,0.06
        - 0.70,0.0,1,0,1,0.2
    zones:
      driveway:
        coordinates: 0.0,0.5,0.6,0.4,0.7,1.0,0.0,1.0
        objects: [car]
        inertia: 5
        loitering_time: 0
      porch:
        coordinates:
          - 0.6,0.5
          - 1.0,0.5
          - 1.0,1.0
          - 0.6,1.0
        objects: person
        inertia: 3
    lpr:
      enabled: true
      min_area: 1500
    face_recognition:
      enabled: false
    record:
      enabled: true
  garage:
    ffmpeg:
      inputs:
        - path: rtsp://10.0.0.21/live
          roles: [detect, record]
    detect:
      <<: *front_detect
      fps: 5
    zones:
      apron:
        coordinates: 100,400,600,400,640,720,80,720
        objects: [person, car]
        inertia: 3
    motion:
      mask: 0,0,640,0,640,40,0,40
"#;

    /// Global lpr and face_recognition off (face_recognition not even written).
    const NO_ENRICHMENTS: &str = r#"
lpr:
  enabled: false
  model_size: large
cameras:
  gate:
    ffmpeg:
      inputs:
        - path: rtsp://10.0.0.30/main
          roles: [detect]
    detect: {width: 1920, height: 1080, fps: 5}
    zones:
      lane:
        coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
"#;

    fn nvr(text: &str) -> NvrConfig {
        match NvrConfig::parse(text, Path::new("/config/config.yml")) {
            Ok(config) => config,
            Err(e) => panic!("fixture config: {e}"),
        }
    }

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).expect("test YAML")
    }

    fn mapping(text: &str) -> Mapping {
        yaml(text).as_mapping().cloned().expect("test YAML mapping")
    }

    fn clip(source: &str) -> std::path::PathBuf {
        Path::new("/media/frigate/clips/replay").join(format!("{}.mp4", replay_camera_name(source)))
    }

    fn build_ok(config: &NvrConfig, source: &str) -> Mapping {
        match build(config, source, &clip(source)) {
            Ok(camera) => camera,
            Err(e) => panic!("build {source}: {e}"),
        }
    }

    #[test]
    fn camera_names() {
        for (name, valid) in [
            ("front_door", true),
            ("Front-Door-2", true),
            ("_replay_x", true),
            ("-", true),
            ("", false),
            ("front door", false),
            ("front/../etc", false),
            ("..", false),
            ("caméra", false),
            ("front\n", false),
            ("a.b", false),
        ] {
            assert_eq!(is_valid_camera_name(name), valid, "{name:?}");
        }
        assert_eq!(replay_camera_name("front_door"), "_replay_front_door");
    }

    #[test]
    fn build_copies_effective_settings_and_fixes_the_rest() {
        let config = nvr(FRIGATE);
        let camera = build_ok(&config, "front_door");
        let want = yaml(
            r#"
enabled: true
ffmpeg:
  inputs:
    - path: /media/frigate/clips/replay/_replay_front_door.mp4
      roles: [detect]
      input_args: -re -stream_loop -1 -fflags +genpts
  hwaccel_args: []
detect:
  width: 1280
  height: 720
  fps: 10
  min_initialized: 3
  max_disappeared: 25
  enabled: true
  stationary: {interval: 50, threshold: 50}
objects:
  track: [person, car]
  mask: 0.0,0.0,0.3,0.0,0.3,0.1,0.0,0.1
  filters:
    car:
      min_score: 0.6
      min_area: 3000
      mask: ['0.9,0.9,1.0,0.9,1.0,1.0,0.9,1.0']
    person: {min_score: 0.55, threshold: 0.7}
zones:
  driveway:
    coordinates: 0.0,0.5,0.6,0.4,0.7,1.0,0.0,1.0
    objects: [car]
    inertia: 5
    loitering_time: 0
  porch:
    coordinates: ['0.6,0.5', '1.0,0.5', '1.0,1.0', '0.6,1.0']
    objects: person
    inertia: 3
motion:
  threshold: 40
  mask: ['0.0,0.0,1.0,0.0,1.0,0.06,0.0,0.06', '0.70,0.0,1,0,1,0.2']
  contour_area: 10
  improve_contrast: true
lpr: {enabled: true, min_area: 1500, enhancement: 2}
face_recognition: {enabled: false, min_area: 500}
record: {enabled: false}
snapshots: {enabled: false}
birdseye: {enabled: false}
audio: {enabled: false}
review:
  alerts: {enabled: false}
  detections: {enabled: false}
"#,
        );
        assert_eq!(Value::Mapping(camera.clone()), want);
        let keys: Vec<&str> = camera.keys().filter_map(Value::as_str).collect();
        assert_eq!(&keys[..3], ["enabled", "ffmpeg", "detect"]);
        assert_eq!(validate(&config, "_replay_front_door", &camera), Ok(()));

        // What the NVR reads back from the published file validates the same.
        let text = published_document("_replay_front_door", &camera);
        let published = NvrConfig::parse(
            &text,
            Path::new("/run/replayd/cameras/_replay_front_door.yml"),
        )
        .expect("published file parses");
        let again = published
            .camera("_replay_front_door")
            .cloned()
            .expect("camera");
        assert_eq!(again, camera);
        assert_eq!(validate(&config, "_replay_front_door", &again), Ok(()));
    }

    #[test]
    fn build_applies_merge_keys_and_keeps_pixel_coordinates() {
        let config = nvr(FRIGATE);
        let camera = Value::Mapping(build_ok(&config, "garage"));
        assert_eq!(
            camera["detect"],
            yaml("{width: 1280, height: 720, fps: 5, min_initialized: 3, max_disappeared: 25, enabled: true, stationary: {interval: 50, threshold: 50}}")
        );
        assert_eq!(
            camera["objects"],
            yaml(
                "{track: [person, car, dog], filters: {person: {min_score: 0.55, threshold: 0.7}}}"
            )
        );
        assert_eq!(
            camera["zones"]["apron"]["coordinates"],
            yaml("'100,400,600,400,640,720,80,720'")
        );
        assert_eq!(camera["motion"]["mask"], yaml("'0,0,640,0,640,40,0,40'"));
        // No camera-level lpr: only the propagated fields of the global one.
        assert_eq!(
            camera["lpr"],
            yaml("{enabled: true, min_area: 1000, enhancement: 2}")
        );
        let camera = camera.as_mapping().cloned().expect("mapping");
        assert_eq!(validate(&config, "_replay_garage", &camera), Ok(()));
    }

    #[test]
    fn fixed_values_win_over_anything_the_source_says() {
        let config = nvr(r#"
record: {enabled: true}
cameras:
  yard:
    ffmpeg:
      hwaccel_args: preset-nvidia-h264
      inputs:
        - {path: rtsp://yard, roles: [detect, record, audio], input_args: preset-rtsp-restream}
    detect: {enabled: false, fps: 7}
    record: {enabled: true, retain: {days: 3}}
    snapshots: {enabled: true, bounding_box: true}
    audio: {enabled: true, listen: [bark]}
    birdseye: {enabled: true}
    review: {alerts: {labels: [person]}, detections: {required_zones: [x]}}
    enabled: false
    mqtt: {enabled: true}
    onvif: {host: 10.0.0.9}
"#);
        let camera = Value::Mapping(build_ok(&config, "yard"));
        assert_eq!(camera["enabled"], Value::Bool(true));
        assert_eq!(camera["detect"], yaml("{enabled: true, fps: 7}"));
        assert_eq!(camera["ffmpeg"]["hwaccel_args"], yaml("[]"));
        assert_eq!(
            camera["ffmpeg"]["inputs"][0]["input_args"],
            yaml(&format!("'{REPLAY_INPUT_ARGS}'"))
        );
        assert_eq!(
            camera["ffmpeg"]["inputs"].as_sequence().map(Vec::len),
            Some(1)
        );
        for section in ["record", "snapshots", "birdseye", "audio"] {
            assert_eq!(camera[section], yaml("{enabled: false}"), "{section}");
        }
        assert_eq!(
            camera["review"],
            yaml("{alerts: {enabled: false}, detections: {enabled: false}}")
        );
        for absent in [
            "mqtt",
            "onvif",
            "zones",
            "objects",
            "motion",
            "lpr",
            "face_recognition",
        ] {
            assert!(camera.get(absent).is_none(), "{absent} should be absent");
        }
    }

    #[test]
    fn detect_is_enabled_even_when_nobody_wrote_it() {
        let config = nvr("cameras:\n  bare:\n    ffmpeg:\n      inputs: [{path: rtsp://bare, roles: [detect]}]\n");
        let camera = Value::Mapping(build_ok(&config, "bare"));
        assert_eq!(camera["detect"], yaml("{enabled: true}"));
    }

    #[test]
    fn objects_keep_only_the_detection_fields() {
        let config = nvr(r#"
objects: {genai: {enabled: true}}
cameras:
  a:
    ffmpeg: {inputs: [{path: rtsp://a, roles: [detect]}]}
    objects: {genai: {enabled: true, objects: [person]}}
  b:
    ffmpeg: {inputs: [{path: rtsp://b, roles: [detect]}]}
    objects: {genai: {enabled: true}, track: [cat], filters: {cat: {min_score: 0.4}}, mask: ''}
"#);
        assert!(build_ok(&config, "a").get("objects").is_none());
        assert_eq!(
            build_ok(&config, "b").get("objects"),
            Some(&yaml(
                "{track: [cat], filters: {cat: {min_score: 0.4}}, mask: ''}"
            ))
        );
    }

    #[test]
    fn runtime_fields_are_dropped_at_any_level() {
        let config = nvr(r#"
motion:
  enabled_in_config: true
cameras:
  dumped:
    ffmpeg: {inputs: [{path: rtsp://d, roles: [detect]}]}
    detect: {fps: 5, enabled_in_config: true, stationary: {enabled_in_config: false, interval: 10}}
    objects:
      track: [person]
      raw_mask: ''
      mask:
        object_mask_1: {coordinates: '0,0,0.1,0,0.1,0.1', raw_coordinates: '0,0,0.1,0,0.1,0.1', enabled: true, enabled_in_config: true}
      filters:
        person: {min_score: 0.5, raw_mask: x, rasterized_mask: y, mask: '0.1,0.1,0.2,0.1,0.2,0.2'}
    zones:
      yard:
        coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
        raw_coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
        contour: [[1, 2], [3, 4]]
        color: [255, 0, 0]
        enabled_in_config: true
        filters:
          person: {min_area: 100, rasterized_mask: z}
    motion:
      threshold: 20
      frame_shape: [720, 1280]
      raw_mask: '0,0,1,0,1,1'
      rasterized_mask: [[255]]
      mask:
        motion_mask_1: {friendly_name: Sky, enabled: true, coordinates: '0,0,1,0,1,0.1', raw_coordinates: '0,0,1,0,1,0.1'}
    lpr: {enabled: false, enabled_in_config: false}
    face_recognition: {enabled_in_config: false}
"#);
        let camera = build_ok(&config, "dumped");
        let want = yaml(
            r#"
detect: {fps: 5, stationary: {interval: 10}, enabled: true}
objects:
  track: [person]
  mask:
    object_mask_1: {coordinates: '0,0,0.1,0,0.1,0.1', enabled: true}
  filters:
    person: {min_score: 0.5, mask: '0.1,0.1,0.2,0.1,0.2,0.2'}
zones:
  yard:
    coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
    filters: {person: {min_area: 100}}
motion:
  threshold: 20
  mask:
    motion_mask_1: {friendly_name: Sky, enabled: true, coordinates: '0,0,1,0,1,0.1'}
lpr: {enabled: false}
face_recognition: {}
"#,
        );
        let camera = Value::Mapping(camera);
        for section in [
            "detect",
            "objects",
            "zones",
            "motion",
            "lpr",
            "face_recognition",
        ] {
            assert_eq!(camera[section], want[section], "{section}");
        }
        let text = published_document("_replay_dumped", camera.as_mapping().expect("mapping"));
        for runtime in [
            "enabled_in_config",
            "raw_",
            "rasterized",
            "contour",
            "color",
            "frame_shape",
        ] {
            assert!(!text.contains(runtime), "{runtime} left in\n{text}");
        }
    }

    #[test]
    fn source_camera_refusals() {
        let config = nvr(FRIGATE);
        for (source, needle) in [
            ("porch", "not a camera of the NVR config /config/config.yml"),
            ("", "not a valid camera name"),
            ("front door", "not a valid camera name"),
            ("../front_door", "not a valid camera name"),
            ("_replay_front_door", "is a replay camera"),
        ] {
            let err = build(&config, source, &clip("x")).expect_err(source);
            assert_eq!(err.field, "camera", "{source:?}");
            assert!(err.to_string().contains(needle), "{source:?}: {err}");
        }
        let named_like_replay =
            nvr("cameras:\n  _replay_x:\n    ffmpeg: {inputs: [{path: a, roles: [detect]}]}\n");
        assert!(build(&named_like_replay, "_replay_x", &clip("x")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_clip_path_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let config = nvr(FRIGATE);
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/media/\xff.mp4"));
        let err = build(&config, "garage", path).expect_err("non-UTF-8");
        assert_eq!(err.field, "ffmpeg.inputs[0].path");
    }

    /// A valid replay camera for `NO_ENRICHMENTS`, with `extra` merged over it.
    fn gate_with(extra: &str) -> Mapping {
        let config = nvr(NO_ENRICHMENTS);
        let mut camera = build_ok(&config, "gate");
        for (key, value) in mapping(extra) {
            camera.insert(key, value);
        }
        camera
    }

    #[test]
    fn validate_accepts() {
        let config = nvr(NO_ENRICHMENTS);
        let cases = [
            "{}",
            // relative: every value compares at or below "1.0" as text
            "zones: {lane: {coordinates: '0,0,1,0,1,1'}}",
            "zones: {lane: {coordinates: '1,1,1,0,0,0.999'}}",
            "zones: {lane: {coordinates: '0.1, 0.2, 0.9, 0.2, 0.9, 0.8'}}",
            "zones: {lane: {coordinates: '-0.1,0,01.5,0,1.0,1.0'}}",
            "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1', '0.9,0.9']}}",
            // pixels: whole numbers, some of them may be small
            "zones: {lane: {coordinates: '0,0,1920,0,1920,1080,0,1080'}}",
            "zones: {lane: {coordinates: ['10,0', '1_920,0', '1920,1080']}}",
            // only the x values of a point list decide
            "zones: {lane: {coordinates: ['0.5,0.5', '0.9,0.5', '0.9,0.9']}}",
            // zone objects: a single label, or a list within the default track
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: person}}",
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [person], inertia: 3, loitering_time: 5}}",
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [car]}, gate2: {coordinates: '0,0,1,0,1,1'}}\nobjects: {track: [car]}",
            "zones: null",
            // masks: every form, empty ones included
            "motion: {mask: ''}",
            "motion: {mask: []}",
            "motion: {mask: null}",
            "motion: {mask: '0,0,1,0,1,0.1'}",
            "motion: {mask: ['0,0,1,0,1,0.1', '0,0.9,1,0.9,1,1']}",
            "motion: {mask: ['0,0,1920,0,1920,60', '0,0.9,1,0.9,1,1']}",
            "motion: {mask: {sky: {coordinates: '0,0,1,0,1,0.1', enabled: false}, none: null, blank: {enabled: true}}}",
            "motion: {mask: {sky: {coordinates: ['0,0,1,0,1,0.1', '0,0.9,1,0.9,1,1']}}}",
            "objects: {mask: '0,0,0.1,0,0.1,0.1', filters: {person: {mask: ['0,0,0.2,0,0.2,0.2']}}}",
            // booleans as the NVR's validation reads them
            "record: {enabled: 'no'}\naudio: {enabled: 0}",
        ];
        for extra in cases {
            let camera = gate_with(extra);
            assert_eq!(
                validate(&config, "_replay_gate", &camera),
                Ok(()),
                "{extra}"
            );
        }
    }

    #[test]
    fn validate_refuses_naming_the_field() {
        let config = nvr(NO_ENRICHMENTS);
        // (replay camera name, extra settings, field, words of the message)
        let cases: &[(&str, &str, &str, &str)] = &[
            ("replay gate", "{}", "name", "not a valid camera name"),
            ("", "{}", "name", "not a valid camera name"),
            ("gate", "{}", "name", "already defines a camera named \"gate\""),
            ("_replay_gate", "ffmpeg: {inputs: []}", "ffmpeg.inputs", "no ffmpeg input"),
            ("_replay_gate", "ffmpeg: {hwaccel_args: []}", "ffmpeg.inputs", "no ffmpeg input"),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4, roles: [record]}]}", "ffmpeg.inputs", "detect role"),
            (
                "_replay_gate",
                "ffmpeg: {inputs: [{path: /c.mp4, roles: [detect]}, {path: /d.mp4, roles: [detect]}]}",
                "ffmpeg.inputs[1].roles",
                "used once",
            ),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4, roles: [rtmp]}]}", "ffmpeg.inputs[0].roles", "unknown role rtmp"),
            ("_replay_gate", "ffmpeg: {inputs: [{roles: [detect]}]}", "ffmpeg.inputs[0].path", "missing"),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4}]}", "ffmpeg.inputs[0].roles", "list of roles"),
            ("_replay_gate", "record: {enabled: true}", "record.enabled", "record role"),
            ("_replay_gate", "audio: {enabled: true}", "audio.enabled", "audio role"),
            ("_replay_gate", "audio: {enabled: maybe}", "audio.enabled", "true or false"),
            ("_replay_gate", "motion: {enabled: false}", "motion.enabled", "object detection"),
            // zone coordinates
            ("_replay_gate", "zones: {lane: {coordinates: 'a,b,c,d,e,f'}}", "zones.lane.coordinates", "\"a\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.1,0.1,0.9,0.1,0.9'}}", "zones.lane.coordinates", "x,y pairs"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.1,0.1,0.9,0.1'}}", "zones.lane.coordinates", "at least 3 points"),
            ("_replay_gate", "zones: {lane: {coordinates: ''}}", "zones.lane.coordinates", "x,y pairs"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1280,0.5,1280,720'}}", "zones.lane.coordinates", "mixes relative and pixel values: \"1280\""),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1.5,0.5,1.5,0.9'}}", "zones.lane.coordinates", "\"1.5\" reads as a pixel value"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1.000,0.5,1.0,0.9'}}", "zones.lane.coordinates", "\"1.000\" reads as a pixel value"),
            ("_replay_gate", "zones: {lane: {coordinates: 'nan,0,1,0,1,1'}}", "zones.lane.coordinates", "\"nan\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: 'inf,0,1,0,1,1'}}", "zones.lane.coordinates", "\"inf\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1_,0,1,1'}}", "zones.lane.coordinates", "\"1_\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.5,0.5', '640,0.5', '640,720']}}", "zones.lane.coordinates", "mixes relative and pixel values: \"640\""),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1,0.5', '0.9,0.9']}}", "zones.lane.coordinates[1]", "not one \"x,y\" point"),
            ("_replay_gate", "zones: {lane: {coordinates: [0.1, 0.1, 0.9]}}", "zones.lane.coordinates[0]", "must be a string"),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1']}}", "zones.lane.coordinates", "at least 3 points"),
            ("_replay_gate", "zones: {lane: {objects: [person]}}", "zones.lane.coordinates", "missing"),
            ("_replay_gate", "zones: {lane: {coordinates: 5}}", "zones.lane.coordinates", "found a number"),
            ("_replay_gate", "zones: {lane: null}", "zones.lane", "must be a mapping"),
            ("_replay_gate", "zones: [lane]", "zones", "must be a mapping"),
            // zone objects and names
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [car]}}", "zones.lane.objects", "\"car\" is not tracked: objects.track is [person]"),
            (
                "_replay_gate",
                "objects: {track: [person, dog]}\nzones: {lane: {coordinates: '0,0,1,0,1,1', objects: [person, car]}}",
                "zones.lane.objects",
                "\"car\" is not tracked: objects.track is [person, dog]",
            ),
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: {a: 1}}}", "zones.lane.objects", "list of labels"),
            ("_replay_gate", "objects: {track: person}", "objects.track", "list of labels"),
            ("_replay_gate", "zones: {gate: {coordinates: '0,0,1,0,1,1'}}", "zones.gate", "named like the camera \"gate\""),
            ("_replay_gate", "zones: {_replay_gate: {coordinates: '0,0,1,0,1,1'}}", "zones._replay_gate", "named like the camera"),
            ("lane", "{}", "name", "camera \"gate\" has a zone named \"lane\""),
            // masks in every form
            ("_replay_gate", "motion: {mask: '0,0,1,0,1'}", "motion.mask", "x,y pairs"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '0,0,x,0,1,1']}", "motion.mask[1]", "\"x\" is not a number"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '']}", "motion.mask[1]", "empty polygon"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', 5]}", "motion.mask[1]", "must be a string"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '0,0,1920,0,1920,60']}", "motion.mask[1]", "first one of the list is relative"),
            ("_replay_gate", "motion: {mask: 5}", "motion.mask", "found a number"),
            ("_replay_gate", "motion: {mask: {sky: {coordinates: '0,0,0.5,0,1920,60'}}}", "motion.mask.sky.coordinates", "mixes relative and pixel"),
            ("_replay_gate", "motion: {mask: {sky: [1]}}", "motion.mask.sky", "must be a mapping"),
            ("_replay_gate", "objects: {mask: '0,0,1,0'}", "objects.mask", "at least 3 points"),
            ("_replay_gate", "objects: {filters: {car: {mask: ['0.2,0.2,1.5,0.2,0.2,0.5']}}}", "objects.filters.car.mask[0]", "\"1.5\" reads as a pixel value"),
            (
                "_replay_gate",
                "zones: {lane: {coordinates: '0,0,1,0,1,1', filters: {person: {mask: '0,0,1,0'}}}}",
                "zones.lane.filters.person.mask",
                "at least 3 points",
            ),
            // enrichments enabled on the camera only
            ("_replay_gate", "lpr: {enabled: true, min_area: 1000}", "lpr.enabled", "not in the global `lpr` section of /config/config.yml"),
            ("_replay_gate", "face_recognition: {enabled: true}", "face_recognition.enabled", "not in the global `face_recognition`"),
        ];
        for (name, extra, field, needle) in cases {
            let camera = gate_with(extra);
            let err = match validate(&config, name, &camera) {
                Ok(()) => panic!("{name:?} with {extra} should be refused"),
                Err(err) => err,
            };
            assert_eq!(err.field, *field, "{extra}: {err}");
            assert!(
                err.message.contains(needle),
                "{extra}: {needle:?} not in {err}"
            );
            assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
        }
    }

    #[test]
    fn validate_sees_the_globals_the_nvr_will_merge() {
        // Global track covers the zone's dog; global lpr on allows the camera's.
        let config = nvr(FRIGATE);
        let mut camera = build_ok(&config, "garage");
        camera.insert(
            "zones".into(),
            yaml("{apron: {coordinates: '0,0,1,0,1,1', objects: [dog]}}"),
        );
        camera.shift_remove("objects");
        assert_eq!(validate(&config, "_replay_garage", &camera), Ok(()));
        // Global motion off reaches a camera that does not say otherwise.
        let config = nvr("motion: {enabled: false}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect]}]}\n    motion: {enabled: true}\n");
        let camera = build_ok(&config, "a");
        assert_eq!(validate(&config, "_replay_a", &camera), Ok(()));
        let mut camera = camera;
        camera.shift_remove("motion");
        assert_eq!(
            validate(&config, "_replay_a", &camera).map_err(|e| e.field),
            Err("motion.enabled".to_string())
        );
        // Global record on, no record input: the replay's record.enabled: false wins.
        let config = nvr("record: {enabled: true}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect, record]}]}\n");
        let mut camera = build_ok(&config, "a");
        assert_eq!(validate(&config, "_replay_a", &camera), Ok(()));
        camera.shift_remove("record");
        assert_eq!(
            validate(&config, "_replay_a", &camera).map_err(|e| e.field),
            Err("record.enabled".to_string())
        );
    }

    #[test]
    fn build_then_validate_refuses_a_source_the_nvr_would_refuse_as_replay() {
        // lpr on for the camera, off globally: the NVR refuses the copy too.
        let config = nvr(
            "lpr: {enabled: false}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect]}]}\n    lpr: {enabled: true}\n",
        );
        let camera = build_ok(&config, "a");
        let err = validate(&config, "_replay_a", &camera).expect_err("lpr");
        assert_eq!(err.field, "lpr.enabled");
    }

    #[test]
    fn published_document_round_trips_exactly() {
        let config = nvr(r#"
cameras:
  porch:
    ffmpeg: {inputs: [{path: rtsp://porch, roles: [detect]}]}
    detect: {width: 640, height: 360, fps: 5, min_initialized: 2, max_disappeared: 25}
    objects:
      track: [person, "1.0"]
      filters:
        person: {min_score: 0.50, threshold: 0.70, min_area: 0.01}
    motion:
      threshold: 25
      lightning_threshold: 0.8
      mask:
        - 0.5,1.0,1.000,0
        - "0,0,1,0,1,0.1"
    zones:
      steps:
        coordinates: ["1.0,0.5", "1,1", "0.0,1.0"]
        objects: ["1.0"]
        friendly_name: "yes"
        inertia: 3
      walk:
        coordinates: '1.0,1.0,0.50,0,0,0'
"#);
        let camera = build_ok(&config, "porch");
        let text = published_document("_replay_porch", &camera);
        let back: Value = serde_yaml::from_str(&text).expect("published YAML parses");
        let mut cameras = Mapping::new();
        cameras.insert("_replay_porch".into(), Value::Mapping(camera.clone()));
        let mut want = Mapping::new();
        want.insert("cameras".into(), Value::Mapping(cameras));
        assert_eq!(back, Value::Mapping(want), "\n{text}");
        let published = &back["cameras"]["_replay_porch"];
        for (value, original) in [
            (&published["motion"]["mask"][0], "0.5,1.0,1.000,0"),
            (&published["zones"]["steps"]["coordinates"][0], "1.0,0.5"),
            (&published["zones"]["steps"]["coordinates"][1], "1,1"),
            (
                &published["zones"]["walk"]["coordinates"],
                "1.0,1.0,0.50,0,0,0",
            ),
            (&published["zones"]["steps"]["objects"][0], "1.0"),
            (&published["zones"]["steps"]["friendly_name"], "yes"),
            (&published["objects"]["track"][1], "1.0"),
        ] {
            assert_eq!(value.as_str(), Some(original), "\n{text}");
        }
        assert_eq!(
            published["objects"]["filters"]["person"]["min_area"].as_f64(),
            Some(0.01)
        );

        // The published file is itself a config the parser accepts, and its
        // camera validates the same way once merged into the NVR config.
        let reparsed = NvrConfig::parse(&text, Path::new("/run/replayd/cameras/_replay_porch.yml"))
            .expect("reparse");
        assert_eq!(reparsed.camera_names(), vec!["_replay_porch"]);
        let again = reparsed.camera("_replay_porch").cloned().expect("camera");
        assert_eq!(again, camera);
        assert_eq!(try_published_document("_replay_porch", &camera), Ok(text));
    }

    #[test]
    fn published_strings_stay_strings() {
        let mut camera = Mapping::new();
        for s in [
            "1.0", "0.50", "1.000", "1", "1e3", "0x1F", "yes", "on", "null", "~", "", "true",
            " 0.5", "- a", "#x", "a: b", "<<",
        ] {
            camera.insert(s.into(), s.into());
        }
        camera.insert("n".into(), yaml("1.0"));
        camera.insert("i".into(), yaml("1"));
        let text = published_document("c", &camera);
        let back: Value = serde_yaml::from_str(&text).expect("parse");
        assert_eq!(back["cameras"]["c"], Value::Mapping(camera), "\n{text}");
    }

    #[test]
    fn python_number_rules() {
        for (text, int, float) in [
            ("0", true, Some(0.0)),
            ("1920", true, Some(1920.0)),
            (" -12 ", true, Some(-12.0)),
            ("+7", true, Some(7.0)),
            ("1_000", true, Some(1000.0)),
            ("1__0", false, None),
            ("_1", false, None),
            ("0.5", false, Some(0.5)),
            (".5", false, Some(0.5)),
            ("1e3", false, Some(1000.0)),
            ("", false, None),
            ("+", false, None),
            ("0x10", false, None),
            ("1,0", false, None),
        ] {
            assert_eq!(is_python_int(text), int, "{text:?}");
            assert_eq!(parse_python_float(text), float, "{text:?}");
        }
        assert!(parse_python_float("nan").is_some_and(f64::is_nan));
        assert_eq!(parse_python_float("-inf"), Some(f64::NEG_INFINITY));
    }
}
