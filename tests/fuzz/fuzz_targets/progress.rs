//! ffmpeg's `-progress pipe:1` output as the daemon reads it from the child's
//! stdout: arbitrary bytes in arbitrary chunks through
//! `clip::ProgressParser::push`.
//!
//! Checked: no panic; every `OutTime` is finite and >= 0; `percent` of it
//! stays in [0, 100]; the updates do not depend on how the stream was split.
//!
//! Input layout: the chunk plan of `common::split_plan`, then the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use replayd::replay::clip::{self, ProgressParser, ProgressUpdate};

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lengths, payload) = common::split_plan(data);
    let mut parser = ProgressParser::new();
    let mut updates = Vec::new();
    for chunk in common::chunks(&lengths, payload) {
        updates.extend(parser.push(chunk));
    }

    for update in &updates {
        if let ProgressUpdate::OutTime(t) = *update {
            assert!(t.is_finite() && t >= 0.0, "OutTime({t})");
            for duration in [1e-9, 1.0, 60.0, 3600.0, t, f64::MAX] {
                let p = clip::percent(t, duration);
                assert!((0.0..=100.0).contains(&p), "percent({t}, {duration}) = {p}");
            }
        }
    }

    // The same bytes in one piece give the same updates.
    let whole = ProgressParser::new().push(payload);
    assert_eq!(updates, whole, "updates depend on the chunking");
});
