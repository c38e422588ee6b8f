//! Overrides (SPEC §2 "overrides", "update", "apply"): the operator's
//! changes to the replay camera's detection settings. Pure.

use serde_json::Value;

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

/// Why overrides are refused; Display names the field as
/// `overrides.<path>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OverrideError {
    pub field: String,
    pub message: String,
}

/// The overrides' shape: a mapping of known sections, each a mapping (or
/// `null`, which removes the section's settings).
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
    Ok(())
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
