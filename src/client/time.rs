//! Times and durations as operators type them, and as `replayctl` shows them.
//!
//! Pure: "now" and the local time zone are passed in, so every format can be
//! table-tested; the libc-backed zone lives in [`super::zone`].

use std::fmt;

pub use crate::civil::Civil;
use crate::civil::{days_in_month, MAX_UNIX};
use crate::duration;

/// The local time zone, injected so that parsing and rendering stay pure.
pub trait Zone {
    /// Unix seconds of a local wall-clock time; `None` when the zone skips
    /// that time (a DST gap).
    fn to_unix(&self, local: &Civil) -> Option<i64>;
    /// Local wall-clock time and UTC offset (seconds east) of a Unix time.
    fn to_local(&self, unix: i64) -> Option<(Civil, i64)>;
}

/// A zone with a constant UTC offset (seconds east); UTC is `FixedOffset(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedOffset(pub i64);

impl Zone for FixedOffset {
    fn to_unix(&self, local: &Civil) -> Option<i64> {
        Some(local.to_unix() - self.0)
    }

    fn to_local(&self, unix: i64) -> Option<(Civil, i64)> {
        Some((Civil::from_unix(unix.checked_add(self.0)?), self.0))
    }
}

/// Why a time or duration argument was refused; shown as a usage error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    what: &'static str,
    input: String,
    reason: String,
}

impl TimeError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        TimeError {
            what,
            input: crate::protocol::printable(input),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} '{}': {}", self.what, self.input, self.reason)
    }
}

impl std::error::Error for TimeError {}

const TIME_FORMS: &str = "expected RFC 3339 (2026-11-24T10:00:00Z), local \
     'YYYY-MM-DD HH:MM[:SS]', Unix seconds, 'now', or relative like -5m, -1h30m";

/// Parses a point in time; `now` is Unix seconds.
///
/// Accepted: RFC 3339 (`T` or space, fractional seconds, `Z` or `±HH:MM`),
/// the same without an offset as local time (`YYYY-MM-DD HH:MM[:SS]`),
/// Unix seconds (`1700000000`, `1700000000.5`), `now`, and `-DURATION`
/// relative to now (see [`parse_duration`]).
pub fn parse_time(input: &str, now: f64, zone: &dyn Zone) -> Result<f64, TimeError> {
    let s = input.trim();
    let err = |reason: &str| TimeError::new("time", input, reason);
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(rest) = s.strip_prefix('-') {
        let ago = parse_duration(rest).map_err(|e| err(&e.reason))?;
        return Ok(now - ago);
    }
    if is_decimal(s) {
        // Only plain digits reach f64 parsing, so "NaN", "inf" and "1e9"
        // can never sneak through as Unix times.
        let t: f64 = s.parse().map_err(|_| err(TIME_FORMS))?;
        if t > MAX_UNIX {
            return Err(err("Unix time is beyond the year 9999"));
        }
        return Ok(t);
    }
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[0].is_ascii_digit() {
        return parse_datetime(s, zone).map_err(|reason| err(&reason));
    }
    Err(err(TIME_FORMS))
}

/// Digits, optionally followed by one `.` and more digits.
fn is_decimal(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// A byte cursor over an ASCII date-time.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` ASCII digits.
    fn number(&mut self, n: usize, field: &str) -> Result<u32, String> {
        let end = self.i + n;
        match self.b.get(self.i..end) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                self.i = end;
                Ok(d.iter().fold(0, |acc, c| acc * 10 + u32::from(c - b'0')))
            }
            _ => Err(format!("{field} must have {n} digits")),
        }
    }

    fn require(&mut self, c: u8, after: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' after the {after}", c as char))
        }
    }
}

fn parse_datetime(s: &str, zone: &dyn Zone) -> Result<f64, String> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.number(4, "year")?;
    c.require(b'-', "year")?;
    let month = c.number(2, "month")?;
    c.require(b'-', "month")?;
    let day = c.number(2, "day")?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return Err("expected 'T' or a space between date and time \
                    (a date alone is not enough: add HH:MM)"
            .into());
    }
    let hour = c.number(2, "hour")?;
    c.require(b':', "hour")?;
    let minute = c.number(2, "minute")?;
    let mut second = 0;
    let mut frac = 0.0;
    if c.eat(b':') {
        second = c.number(2, "second")?;
        if c.eat(b'.') {
            let start = c.i;
            while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.i += 1;
            }
            if c.i == start {
                return Err("expected digits after the decimal point".into());
            }
            // The slice is ASCII digits only, so this cannot fail; 0.0 keeps
            // the parser total anyway.
            frac = format!("0.{}", &s[start..c.i]).parse().unwrap_or(0.0);
        }
    }
    let offset = match c.peek() {
        None => None,
        Some(b'Z' | b'z') => {
            c.i += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.number(2, "offset hour")?;
            c.eat(b':');
            let om = c.number(2, "offset minute")?;
            if oh > 23 || om > 59 {
                return Err("UTC offset out of range".into());
            }
            let secs = i64::from(oh * 3600 + om * 60);
            Some(if sign == b'-' { -secs } else { secs })
        }
        Some(_) => return Err("unexpected text after the time".into()),
    };
    if c.peek().is_some() {
        return Err("unexpected text after the UTC offset".into());
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} does not exist"));
    }
    let year = year as i32;
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year}-{month:02}"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a time of day"
        ));
    }
    let civil = Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
    };
    let whole = match offset {
        Some(off) => civil.to_unix() - off,
        None => zone.to_unix(&civil).ok_or_else(|| {
            "this local time does not exist (skipped by a DST change); \
             give a UTC offset"
                .to_string()
        })?,
    };
    Ok(whole as f64 + frac)
}

/// Parses a positive duration in the one grammar replayd.toml uses too
/// ([`crate::duration`]: `90s`, `5m`, `1h30m`, `1.5h`, `500ms`), as seconds.
pub fn parse_duration(input: &str) -> Result<f64, TimeError> {
    duration::parse(input)
        .map(|d| d.as_secs_f64())
        .map_err(|e| TimeError::new("duration", input, e.to_string()))
}

/// `2026-11-24 10:00:05 +01:00` in the given zone (UTC with `Z` if the zone
/// cannot say); fractions of a second are dropped.
pub fn format_local(t: f64, zone: &dyn Zone) -> String {
    if !t.is_finite() || t.abs() > MAX_UNIX {
        return "?".into();
    }
    let secs = t.floor() as i64;
    let (c, off) = match zone.to_local(secs) {
        Some(local) => local,
        None => (Civil::from_unix(secs), 0),
    };
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}:{:02}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        off / 3600,
        off / 60 % 60
    )
}

/// `HH:MM:SS` in the given zone, for timestamps of lines as they happen.
pub fn format_clock(t: f64, zone: &dyn Zone) -> String {
    if !t.is_finite() || t.abs() > MAX_UNIX {
        return "??:??:??".into();
    }
    let secs = t.floor() as i64;
    let c = zone
        .to_local(secs)
        .map_or_else(|| Civil::from_unix(secs), |(c, _)| c);
    format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
}

/// A duration for a person: `45s`, `5m 3s`, `1h 30m`, `2d 3h`; the smaller
/// unit is dropped once the larger is in hours.
pub fn format_duration(secs: f64) -> String {
    if !secs.is_finite() || secs <= 0.0 {
        return "0s".into();
    }
    let s = secs.round() as u64;
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    let pair = |a: u64, ua: &str, b: u64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua} {b}{ub}")
        }
    };
    if d > 0 {
        pair(d, "d", h, "h")
    } else if h > 0 {
        pair(h, "h", m, "m")
    } else if m > 0 {
        pair(m, "m", s, "s")
    } else {
        format!("{s}s")
    }
}

/// `in 5m` / `5m ago`, relative to `now`.
pub fn format_relative(t: f64, now: f64) -> String {
    let d = t - now;
    if d.abs() < 1.0 {
        "now".into()
    } else if d > 0.0 {
        format!("in {}", format_duration(d))
    } else {
        format!("{} ago", format_duration(-d))
    }
}

#[cfg(test)]
mod tests;
