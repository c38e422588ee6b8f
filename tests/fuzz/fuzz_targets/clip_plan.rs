//! The clip job's plan and concat list: arbitrary recording segments (any
//! path bytes, any times, NaN and infinities included) and an arbitrary
//! range through `clip::plan`, `clip::concat_list`, `clip::truncated_at` and
//! `clip::without_entry`.
//!
//! Checked: no panic; a range that is not finite and increasing plans
//! nothing; every entry covers a positive time inside the range and inside
//! its segment; offsets add up to `expected_duration`; with non-overlapping segments only the first entry has an inpoint
//! and only the last an outpoint (with overlapping rows only under
//! REPLAYD_FUZZ_STRICT=1, see run.sh); `concat_list` refuses exactly the
//! relative paths and those with a line break or NUL, and otherwise writes
//! a list whose `file` tokens unquote to `file:` + the path, byte for byte,
//! with in/outpoints that read back within a microsecond.
//!
//! Input: read with `arbitrary::Unstructured` (range, then segments).

#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use replayd::replay::clip::{self, ClipPlan, ListError, Segment};

const MAX_SEGMENTS: usize = 32;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((start, end, segments)) = input(&mut u) else {
        return;
    };
    let plan = clip::plan(&segments, start, end);
    check_plan(&plan, &segments, start, end);
    check_list(&plan);

    let actual = f(&mut u).unwrap_or(0.0);
    let tolerance = f(&mut u).unwrap_or(2.0);
    if let Some(i) = clip::truncated_at(&plan, actual, tolerance) {
        assert!(
            i < plan.entries.len(),
            "blamed entry {i} of {}",
            plan.entries.len()
        );
        let rest = clip::without_entry(&plan, i);
        assert_eq!(rest.entries.len(), plan.entries.len() - 1);
        check_offsets(&rest);
    }
});

fn input(u: &mut Unstructured<'_>) -> Result<(f64, f64, Vec<Segment>)> {
    let start = f(u)?;
    let end = f(u)?;
    let n = u.int_in_range(0..=MAX_SEGMENTS)?;
    let mut segments = Vec::with_capacity(n);
    for _ in 0..n {
        let absolute: bool = u.arbitrary()?;
        let mut bytes: Vec<u8> = if absolute { b"/".to_vec() } else { Vec::new() };
        let len = u.int_in_range(0..=24)?;
        bytes.extend_from_slice(u.bytes(len)?);
        segments.push(Segment {
            path: PathBuf::from(OsString::from_vec(bytes)),
            start_time: f(u)?,
            end_time: f(u)?,
        });
    }
    Ok((start, end, segments))
}

/// A time: mostly small whole seconds (so ranges and segments meet), or any
/// f64 bit pattern.
fn f(u: &mut Unstructured<'_>) -> Result<f64> {
    Ok(if u.arbitrary::<bool>()? {
        f64::from(u.int_in_range(-4i16..=200)?) / 2.0
    } else {
        f64::from_bits(u.arbitrary()?)
    })
}

fn check_plan(plan: &ClipPlan, segments: &[Segment], start: f64, end: f64) {
    if !(start.is_finite() && end.is_finite() && end > start) {
        assert!(plan.entries.is_empty(), "planned over {start}..{end}");
        return;
    }
    check_offsets(plan);
    for entry in &plan.entries {
        assert!(entry.covers > 0.0, "{entry:?}");
        // The segment this entry came from (the first that fits).
        let seg = segments
            .iter()
            .filter(|s| s.path == entry.path && s.start_time.is_finite() && s.end_time.is_finite())
            .find(|s| {
                let from = start.max(s.start_time);
                let to = end.min(s.end_time);
                let (inpoint, outpoint) = (from - s.start_time, to - s.start_time);
                let length = s.end_time - s.start_time;
                to - from == entry.covers
                    && entry.inpoint == (inpoint > 0.0).then_some(inpoint)
                    && entry.outpoint == (outpoint < length).then_some(outpoint)
            })
            .unwrap_or_else(|| panic!("no segment gives {entry:?}"));
        let length = seg.end_time - seg.start_time;
        if let Some(inpoint) = entry.inpoint {
            assert!(inpoint > 0.0 && inpoint <= length, "{entry:?} of {seg:?}");
        }
        if let Some(outpoint) = entry.outpoint {
            assert!(outpoint > 0.0 && outpoint < length, "{entry:?} of {seg:?}");
            assert!(outpoint >= entry.inpoint.unwrap_or(0.0), "{entry:?}");
        }
    }

    let strict = std::env::var_os("REPLAYD_FUZZ_STRICT").is_some_and(|v| v == "1");
    if strict || !overlapping(segments) {
        let last = plan.entries.len().saturating_sub(1);
        for (i, entry) in plan.entries.iter().enumerate() {
            assert!(
                entry.inpoint.is_none() || i == 0,
                "entry {i} has an inpoint: {plan:?}\nsegments {segments:?} over {start}..{end}"
            );
            assert!(
                entry.outpoint.is_none() || i == last,
                "entry {i} has an outpoint: {plan:?}\nsegments {segments:?} over {start}..{end}"
            );
        }
    }
}

/// Whether two usable segments (finite times, positive length) overlap.
fn overlapping(segments: &[Segment]) -> bool {
    let mut usable: Vec<(f64, f64)> = segments
        .iter()
        .filter(|s| s.start_time.is_finite() && s.end_time.is_finite() && s.end_time > s.start_time)
        .map(|s| (s.start_time, s.end_time))
        .collect();
    usable.sort_by(|a, b| a.0.total_cmp(&b.0));
    usable.windows(2).any(|w| w[1].0 < w[0].1)
}

fn check_offsets(plan: &ClipPlan) {
    let mut offset = 0.0_f64;
    for entry in &plan.entries {
        assert_eq!(entry.start_offset.to_bits(), offset.to_bits(), "{plan:?}");
        offset += entry.covers;
    }
    assert_eq!(
        plan.expected_duration.to_bits(),
        offset.to_bits(),
        "{plan:?}"
    );
}

fn check_list(plan: &ClipPlan) {
    let bad = plan.entries.iter().find_map(|e| {
        let bytes = e.path.as_os_str().as_bytes();
        if !e.path.is_absolute() {
            Some("relative")
        } else if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
            Some("line break")
        } else if bytes.contains(&0) {
            Some("nul")
        } else {
            None
        }
    });
    let list = match (clip::concat_list(plan), bad) {
        (Ok(list), None) => list,
        (Err(e), Some(why)) => {
            let kind = match e {
                ListError::NotAbsolute(_) => "relative",
                ListError::LineBreak(_) => "line break",
                ListError::Nul(_) => "nul",
            };
            assert_eq!(kind, why, "first bad path refused for the wrong reason");
            return;
        }
        (Ok(list), Some(why)) => panic!(
            "a {why} path got into the list:\n{}",
            String::from_utf8_lossy(&list)
        ),
        (Err(e), None) => panic!("good paths refused: {e}"),
    };

    let mut lines = list.split(|&b| b == b'\n');
    assert_eq!(lines.next(), Some(&b"ffconcat version 1.0"[..]));
    assert_eq!(list.last(), Some(&b'\n'));
    let mut entries = plan.entries.iter().peekable();
    let mut current = None;
    for line in lines.filter(|l| !l.is_empty()) {
        if let Some(token) = line.strip_prefix(b"file ") {
            let entry = entries.next().expect("more file lines than entries");
            let mut want = b"file:".to_vec();
            want.extend_from_slice(entry.path.as_os_str().as_bytes());
            assert_eq!(
                unquote(token),
                want,
                "file token {:?}",
                String::from_utf8_lossy(token)
            );
            current = Some(entry);
            continue;
        }
        let entry = current.expect("a directive before the first file line");
        let text = std::str::from_utf8(line).expect("directive is text");
        let (name, value) = text.split_once(' ').expect("directive with a value");
        let want = match name {
            "inpoint" => entry.inpoint,
            "outpoint" => entry.outpoint,
            _ => panic!("unexpected directive {text:?}"),
        }
        .unwrap_or_else(|| panic!("{name} written for {entry:?}"));
        let got: f64 = value.parse().expect("a number");
        assert!(
            (got - want).abs() <= 5e-7 * want.abs().max(1.0),
            "{name} {value} for {want}"
        );
    }
    assert!(entries.next().is_none(), "entries without a file line");
}

/// One ffconcat token as ffmpeg's `av_get_token` reads it: `'...'` is
/// literal, `\x` outside quotes is `x`.
fn unquote(token: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut bytes = token.iter();
    while let Some(&b) = bytes.next() {
        match (quoted, b) {
            (true, b'\'') => quoted = false,
            (true, _) => out.push(b),
            (false, b'\'') => quoted = true,
            (false, b'\\') => out.extend(bytes.next()),
            (false, _) => out.push(b),
        }
    }
    assert!(
        !quoted,
        "unterminated quote in {:?}",
        String::from_utf8_lossy(token)
    );
    out
}
