//! What a `start` request makes of the NVR config (the pure part of the
//! daemon's `check_source_camera` and of publishing): arbitrary text through
//! `nvr::config::NvrConfig::parse`, then for the first cameras
//! `replay::camera::build` and `replay::camera::validate`.
//!
//! Checked: no panic anywhere; every camera `camera_names()` lists is one
//! `camera()` knows (only under REPLAYD_FUZZ_STRICT=1, see run.sh); every
//! error names something (non-empty
//! field and message); a camera's effective settings keep every value it
//! wrote itself (globals only fill in what it left out); a built camera's published document (`try_published_document`,
//! what lands in the NVR's config directory) parses back, through the same
//! `NvrConfig::parse`, to the same camera; a validated camera's
//! `published_document` is never the error fallback.
//!
//! Input: the NVR config text (not UTF-8: skipped).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use replayd::nvr::config::NvrConfig;
use replayd::replay::camera;
use serde_yaml::{Mapping, Value};

/// Cameras tried per config: enough for the "other camera has a zone with
/// this name" checks to meet more than one camera, bounded for speed.
const CAMERAS_PER_INPUT: usize = 3;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/config/config.yml");
    let nvr = match NvrConfig::parse(text, path) {
        Ok(nvr) => nvr,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let clip = Path::new("/media/frigate/clips/replay/_replay_x.mp4");
    let strict = std::env::var_os("REPLAYD_FUZZ_STRICT").is_some_and(|v| v == "1");
    for source in nvr.camera_names().into_iter().take(CAMERAS_PER_INPUT) {
        // Known: a tagged key (`! front:`, `!x front:`) is listed by
        // camera_names() (Value::as_str untags) but unknown to camera() and
        // has_camera() (Mapping::get looks for a plain string). See run.sh.
        let Some(own) = nvr.camera(&source).cloned() else {
            assert!(
                !strict,
                "camera_names() lists {source:?}, camera() does not know it"
            );
            continue;
        };
        let effective = nvr.effective_camera(&source).expect("listed camera");
        assert!(
            keeps(&effective, &own),
            "effective settings of {source:?} lost or changed its own:\nown: {own:?}\neffective: {effective:?}"
        );

        let built = match camera::build(&nvr, &source, clip, &replayd::replay::session::Tuning::default()) {
            Ok(built) => built,
            Err(e) => {
                assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
                continue;
            }
        };
        let name = replayd::replay::names::replay_name(&source);
        if let Ok(document) = camera::try_published_document(&name, &built) {
            let published = NvrConfig::parse(&document, Path::new("/config/cameras.yml"))
                .unwrap_or_else(|e| panic!("published document does not parse: {e}\n{document}"));
            let back = published
                .camera(&name)
                .unwrap_or_else(|| panic!("published document lost {name}:\n{document}"));
            assert!(
                same_mapping(back, &built),
                "published camera differs after a round trip:\nbuilt: {built:?}\nback:  {back:?}\n{document}"
            );
        }
        match camera::validate(&nvr, &name, &built) {
            Ok(()) => {
                let document = camera::published_document(&name, &built);
                assert!(
                    !document.starts_with("# replayd"),
                    "validated camera not writable: {document}"
                );
            }
            Err(e) => assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}"),
        }
    }
});

/// Whether `merged` still holds everything `own` wrote (globals are only
/// ever added under it, key by key in nested mappings).
fn keeps(merged: &Mapping, own: &Mapping) -> bool {
    own.iter()
        .all(|(key, value)| match (merged.get(key), value) {
            (Some(Value::Mapping(m)), Value::Mapping(o)) => keeps(m, o),
            (Some(m), o) => same(m, o),
            (None, _) => false,
        })
}

/// Equality where a NaN equals a NaN (`.nan` survives a round trip as itself).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_nan() && y.is_nan() => true,
            _ => x == y,
        },
        (Value::Sequence(x), Value::Sequence(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Mapping(x), Value::Mapping(y)) => same_mapping(x, y),
        (Value::Tagged(x), Value::Tagged(y)) => x.tag == y.tag && same(&x.value, &y.value),
        _ => a == b,
    }
}

fn same_mapping(a: &Mapping, b: &Mapping) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
}
