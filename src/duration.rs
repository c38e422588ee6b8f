//! The one duration grammar (SPEC §1), shared by replayd.toml and replayctl
//! so that a value accepted by one is accepted by the other. Pure.
//!
//! A duration is one or more `<number><unit>` groups, units `d`, `h`, `m`,
//! `s`, `ms` from largest to smallest and each at most once, optionally
//! separated by spaces: `"90s"`, `"1h30m"`, `"1h 30m"`, `"500ms"`, `"1.5h"`.
//! The number may have a fraction. A bare number is refused ("5" could mean
//! seconds or minutes), and so are zero, a sign and anything over [`MAX`].

use std::time::Duration;

/// Longest duration accepted anywhere: far beyond any sane setting, and small
/// enough that `Instant + d` can never overflow (which would panic).
pub const MAX: Duration = Duration::from_secs(3650 * 86_400);

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Largest unit first; a group's unit must come after the previous group's.
const UNITS: [(&str, u128); 5] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
];

/// Digits of a fraction that can still matter: 10^-18 of a day is far below
/// a nanosecond, and more would overflow the arithmetic below.
const MAX_FRACTION_DIGITS: usize = 18;

/// Why a duration was refused. Display is the reason alone; callers add the
/// input and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration (expected e.g. 90s, 1h30m, 500ms)")]
    Empty,
    #[error("must be positive")]
    Negative,
    #[error("expected a number before each unit (e.g. 90s, 1h30m, 500ms, 1.5h)")]
    Malformed,
    #[error("missing unit (ms, s, m, h or d)")]
    MissingUnit,
    #[error("unknown unit {0:?} (expected ms, s, m, h or d)")]
    UnknownUnit(String),
    #[error("units must go from largest to smallest, each once (e.g. 1h30m)")]
    UnitOrder,
    #[error("must be greater than zero")]
    Zero,
    #[error("too large (at most 3650d)")]
    TooLarge,
}

/// Parses a duration in the grammar described at the top of this module.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let b = s.as_bytes();
    let mut total: u128 = 0;
    let mut previous_unit: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == int_start {
            return Err(DurationError::Malformed);
        }
        let int_digits = &b[int_start..i];
        let mut frac_digits: &[u8] = &[];
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == frac_start {
                return Err(DurationError::Malformed);
            }
            frac_digits = &b[frac_start..i];
        }
        let unit_start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        if unit_start == i {
            return Err(DurationError::MissingUnit);
        }
        let unit = &s[unit_start..i];
        let rank = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| DurationError::UnknownUnit(unit.to_string()))?;
        if previous_unit.is_some_and(|p| rank <= p) {
            return Err(DurationError::UnitOrder);
        }
        previous_unit = Some(rank);
        let group = group_nanos(int_digits, frac_digits, UNITS[rank].1)?;
        total = total.checked_add(group).ok_or(DurationError::TooLarge)?;
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    if total > MAX.as_nanos() {
        return Err(DurationError::TooLarge);
    }
    // Within MAX, so the seconds fit a u64 and the remainder is below 10^9.
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| DurationError::TooLarge)?;
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| DurationError::TooLarge)?;
    Ok(Duration::new(secs, nanos))
}

/// `int.frac` × `unit` in nanoseconds, exactly (no float rounding: "1.1s" is
/// 1_100_000_000 ns, not 1_100_000_000.000000089).
fn group_nanos(int: &[u8], frac: &[u8], unit: u128) -> Result<u128, DurationError> {
    let mut whole: u128 = 0;
    for &d in int {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(d - b'0')))
            .ok_or(DurationError::TooLarge)?;
    }
    let mut nanos = whole.checked_mul(unit).ok_or(DurationError::TooLarge)?;
    let frac = &frac[..frac.len().min(MAX_FRACTION_DIGITS)];
    if !frac.is_empty() {
        let mut numerator: u128 = 0;
        for &d in frac {
            numerator = numerator * 10 + u128::from(d - b'0');
        }
        let denominator = 10u128.pow(frac.len() as u32);
        nanos = nanos
            .checked_add(numerator * unit / denominator)
            .ok_or(DurationError::TooLarge)?;
    }
    Ok(nanos)
}

/// The canonical spelling (`"1h30m"`, `"500ms"`), which [`parse`] reads back;
/// below a millisecond is dropped.
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, nanos) in UNITS {
        let size = nanos / 1_000_000;
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests;
