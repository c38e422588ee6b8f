use super::*;
use serde_json::json;

fn yaml(text: &str) -> Mapping {
    serde_yaml::from_str(text).expect("test YAML")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---- assignments ----

#[test]
fn unknown_sections_are_refused() {
    let err = check_shape(&json!({"record": {"enabled": true}})).unwrap_err();
    assert_eq!(err.field, "overrides.record");
    let err = check_shape(&json!({"motion": 5})).unwrap_err();
    assert_eq!(err.field, "overrides.motion");
    assert!(check_shape(&json!([])).is_err());
    assert!(check_shape(&json!({"motion": null, "zones": {}})).is_ok());
}

#[test]
fn types_table() {
    let ok = [
        json!({"motion": {"threshold": 25, "contour_area": 10, "improve_contrast": false,
                          "lightning_threshold": 0.5, "mask": "0,0,1,0,1,1"}}),
        json!({"motion": {"mask": ["0,0,1,0,1,1"]}}),
        json!({"motion": {"mask": {"m1": {"coordinates": "0,0,1,0,1,1"}}}}),
        json!({"detect": {"fps": 10, "width": 1280, "height": 720, "min_initialized": 2,
                          "max_disappeared": 25, "enabled": true,
                          "stationary": {"interval": 50, "max_frames": {"objects": {"car": 100}}}}}),
        json!({"objects": {"track": ["person"], "filters": {"car": {"min_area": 0.01, "max_area": 50000,
                                                                    "threshold": 0.8, "min_score": 0.5}}}}),
        json!({"zones": {"yard": {"inertia": 5, "loitering_time": 0, "coordinates": ["0.1,0.1", "0.5,0.1", "0.5,0.5"],
                                  "objects": "person", "enabled": false}}}),
        json!({"zones": {"yard": {"coordinates": "0.1,0.1,0.5,0.1,0.5,0.5"}, "street": null}}),
        json!({"lpr": {"enabled": true, "min_area": 1000, "enhancement": 3}, "face_recognition": {"min_area": 500}}),
        json!({"motion": {"threshold": null}}),
        // Fields replayd does not know are the NVR's to judge.
        json!({"motion": {"some_new_field": "x"}, "detect": {"future": {"a": 1}}}),
    ];
    for value in ok {
        check_shape(&value).unwrap_or_else(|e| panic!("{value}: {e}"));
    }
    let bad = [
        (
            json!({"motion": {"threshold": "25"}}),
            "overrides.motion.threshold",
            "whole number",
        ),
        (
            json!({"motion": {"threshold": 25.5}}),
            "overrides.motion.threshold",
            "whole number",
        ),
        (
            json!({"motion": {"threshold": 0}}),
            "overrides.motion.threshold",
            "between 1 and 255",
        ),
        (
            json!({"motion": {"threshold": 300}}),
            "overrides.motion.threshold",
            "between 1 and 255",
        ),
        (
            json!({"motion": {"improve_contrast": "yes"}}),
            "overrides.motion.improve_contrast",
            "true or false",
        ),
        (
            json!({"motion": {"contour_area": true}}),
            "overrides.motion.contour_area",
            "whole number",
        ),
        (
            json!({"motion": {"mask": 5}}),
            "overrides.motion.mask",
            "polygon",
        ),
        (
            json!({"detect": {"fps": "5"}}),
            "overrides.detect.fps",
            "whole number",
        ),
        (
            json!({"detect": {"min_initialized": 1}}),
            "overrides.detect.min_initialized",
            "at least 2",
        ),
        (
            json!({"detect": {"stationary": 5}}),
            "overrides.detect.stationary",
            "mapping",
        ),
        (
            json!({"objects": {"filters": {"car": {"min_area": "big"}}}}),
            "overrides.objects.filters.car.min_area",
            "number",
        ),
        (
            json!({"objects": {"track": "person"}}),
            "overrides.objects.track",
            "list of strings",
        ),
        (
            json!({"objects": {"genai": {"enabled": true}}}),
            "overrides.objects.genai",
            "objects.track",
        ),
        (
            json!({"zones": {"yard": {"inertia": 0}}}),
            "overrides.zones.yard.inertia",
            "at least 1",
        ),
        (
            json!({"zones": {"yard": {"inertia": "3"}}}),
            "overrides.zones.yard.inertia",
            "whole number",
        ),
        (
            json!({"zones": {"yard": {"coordinates": [0.1, 0.2]}}}),
            "overrides.zones.yard.coordinates",
            "strings",
        ),
        (
            json!({"zones": {"yard": 5}}),
            "overrides.zones.yard",
            "mapping",
        ),
        (
            json!({"zones": {"yard": {"filters": {"car": {"threshold": "x"}}}}}),
            "overrides.zones.yard.filters.car.threshold",
            "number",
        ),
        (
            json!({"lpr": {"model_size": "large"}}),
            "overrides.lpr.model_size",
            "global model setting",
        ),
        (
            json!({"lpr": {"enhancement": 11}}),
            "overrides.lpr.enhancement",
            "between 0 and 10",
        ),
        (
            json!({"face_recognition": {"enabled": 1}}),
            "overrides.face_recognition.enabled",
            "true or false",
        ),
    ];
    for (value, field, message) in bad {
        let err = check_shape(&value).expect_err(&value.to_string());
        assert_eq!(err.field, field, "{value}: {err}");
        assert!(err.message.contains(message), "{value}: {err}");
    }
}

// ---- accumulate and reset ----

#[test]
fn accumulate_is_cumulative_and_keeps_nulls() {
    let session =
        json!({"motion": {"threshold": 25, "mask": null}, "zones": {"yard": {"inertia": 5}}});
    let new = json!({"motion": {"contour_area": 12}, "zones": {"yard": {"inertia": 6, "loitering_time": 2}, "porch": null}});
    assert_eq!(
        accumulate(Some(&session), &new),
        Some(json!({
            "motion": {"threshold": 25, "mask": null, "contour_area": 12},
            "zones": {"yard": {"inertia": 6, "loitering_time": 2}, "porch": null}
        }))
    );
    // A list replaces; a mapping replaces a null (a deleted mask comes back).
    let session = json!({"objects": {"track": ["person", "car"]}, "motion": {"mask": null}});
    let new = json!({"objects": {"track": ["dog"]}, "motion": {"mask": {"a": {"coordinates": "0,0,1,0,1,1"}}}});
    assert_eq!(
        accumulate(Some(&session), &new),
        Some(
            json!({"objects": {"track": ["dog"]}, "motion": {"mask": {"a": {"coordinates": "0,0,1,0,1,1"}}}})
        )
    );
    assert_eq!(
        accumulate(None, &json!({"motion": {"threshold": 5}})),
        Some(json!({"motion": {"threshold": 5}}))
    );
    assert_eq!(accumulate(None, &json!({"motion": {}})), None);
}

#[test]
fn reset_drops_paths_and_prunes() {
    let overrides =
        json!({"motion": {"threshold": 25, "contour_area": 12}, "zones": {"yard": {"inertia": 5}}});
    assert_eq!(
        reset(Some(&overrides), &strings(&["motion.threshold"])).unwrap(),
        Some(json!({"motion": {"contour_area": 12}, "zones": {"yard": {"inertia": 5}}}))
    );
    assert_eq!(
        reset(
            Some(&overrides),
            &strings(&["zones.yard.inertia", "motion"])
        )
        .unwrap(),
        None
    );
    assert_eq!(reset(Some(&overrides), &strings(&["*"])).unwrap(), None);
    assert_eq!(reset(None, &strings(&["*"])).unwrap(), None);
    let err = reset(Some(&overrides), &strings(&["motion.treshold"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reset: overrides.motion.treshold is not overridden: nothing to reset"
    );
    assert!(reset(None, &strings(&["motion"])).is_err());
    assert!(reset(Some(&overrides), &strings(&["motion..x"])).is_err());
    // A null override is reset like any other.
    let with_null = json!({"motion": {"mask": null}});
    assert_eq!(
        reset(Some(&with_null), &strings(&["motion.mask"])).unwrap(),
        None
    );
}

// ---- merge ----

#[test]
fn merge_maps_merge_lists_replace_null_removes() {
    let mut base = yaml(
        "motion:\n  threshold: 30\n  mask: ['0,0,1,0,1,1']\nzones:\n  yard:\n    coordinates: 0.1,0.1,0.5,0.1,0.5,0.5\n    inertia: 3\n  porch:\n    coordinates: 0,0,1,0,1,1\nobjects:\n  track: [person, car]\n",
    );
    merge(
        &mut base,
        &json!({
            "motion": {"threshold": 25, "mask": null},
            "zones": {"yard": {"inertia": 5}, "porch": null, "street": {"coordinates": "0,0.5,1,0.5,1,1"}},
            "objects": {"track": ["dog"]},
            "detect": {"fps": 10}
        }),
    );
    let want = yaml(
        "motion:\n  threshold: 25\nzones:\n  yard:\n    coordinates: 0.1,0.1,0.5,0.1,0.5,0.5\n    inertia: 5\n  street:\n    coordinates: 0,0.5,1,0.5,1,1\nobjects:\n  track: [dog]\ndetect:\n  fps: 10\n",
    );
    assert_eq!(base, want);
    // A mapping over a string (a 0.17 mask replaced by 0.18 named masks).
    let mut base = yaml("motion:\n  mask: 0,0,1,0,1,1\n");
    merge(
        &mut base,
        &json!({"motion": {"mask": {"a": {"coordinates": "0,0,1,0,1,1"}}}}),
    );
    assert_eq!(
        base,
        yaml("motion:\n  mask:\n    a:\n      coordinates: 0,0,1,0,1,1\n")
    );
    // Removing what is not there is nothing; a whole section goes with null.
    let mut base = yaml("motion:\n  threshold: 30\n");
    merge(&mut base, &json!({"zones": {"x": null}, "motion": null}));
    assert_eq!(base, yaml("zones: {}\n"));
}

#[test]
fn changed_sections_in_order() {
    let old = yaml("enabled: true\ndetect: {fps: 5}\nmotion: {threshold: 30}\nzones: {a: {coordinates: '0,0,1,0,1,1'}}\n");
    let new =
        yaml("enabled: true\ndetect: {fps: 5}\nmotion: {threshold: 25}\nlpr: {enabled: true}\n");
    assert_eq!(
        changed_sections(&old, &new),
        strings(&["motion", "lpr", "zones"])
    );
    assert!(changed_sections(&old, &old).is_empty());
}

#[test]
fn blame_names_the_override() {
    let overrides = json!({"zones": {"yard": {"objects": ["cat"]}, "street": {"inertia": 3}}, "motion": {"mask": ["a"]}});
    let o = Some(&overrides);
    let source = |path: &[String]| path.len() < 2 || path[1] != "street";
    assert_eq!(
        blame(o, "zones.yard.objects", source).as_deref(),
        Some("overrides.zones.yard.objects")
    );
    assert_eq!(
        blame(o, "zones.street.coordinates", source).as_deref(),
        Some("overrides.zones.street.coordinates")
    );
    assert_eq!(
        blame(o, "motion.mask[0]", source).as_deref(),
        Some("overrides.motion.mask[0]")
    );
    assert_eq!(blame(o, "zones.yard.coordinates", source), None);
    assert_eq!(blame(o, "name", source), None);
    assert_eq!(blame(None, "zones.yard.objects", source), None);
    let whole = json!({"motion": {"mask": "0,0"}});
    assert_eq!(
        blame(Some(&whole), "motion.mask.x.coordinates", source).as_deref(),
        Some("overrides.motion.mask")
    );
}

// ---- back to the source ----

#[test]
fn paste_yaml_is_the_text_to_paste() {
    let text = paste_yaml("front", &json!({"motion": {"threshold": 30}}));
    assert_eq!(
        text,
        "cameras:\n  front:\n    motion:\n      threshold: 30\n"
    );
    let text = paste_yaml(
        "front",
        &json!({"zones": {"yard": {"coordinates": "0.1,0.5,1.0,0.5", "inertia": 5}}, "motion": {"mask": null}}),
    );
    assert!(text.starts_with("# a key set to null"), "{text}");
    let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        parsed["cameras"]["front"]["zones"]["yard"]["coordinates"],
        serde_yaml::Value::from("0.1,0.5,1.0,0.5")
    );
    assert!(parsed["cameras"]["front"]["motion"]["mask"].is_null());
}

#[test]
fn restrict_keeps_sections_asked_for() {
    let overrides = json!({"motion": {"threshold": 5}, "zones": {"a": null}});
    assert_eq!(restrict(&overrides, &[]), overrides);
    assert_eq!(
        restrict(&overrides, &strings(&["zones"])),
        json!({"zones": {"a": null}})
    );
}

#[test]
fn apply_plan_before_after_and_patches() {
    let own = yaml(
        "ffmpeg: {inputs: []}\nmotion:\n  threshold: 25\n  mask: 0,0,1,0,1,1\nzones:\n  yard:\n    coordinates: 0,0,1,0,1,1\n    inertia: 3\n",
    );
    // Effective: global motion.contour_area and objects under the camera's own.
    let mut effective = own.clone();
    merge(
        &mut effective,
        &json!({"motion": {"contour_area": 10}, "objects": {"track": ["person"]}}),
    );
    let overrides = json!({
        "motion": {"threshold": 30, "mask": null, "contour_area": null, "improve_contrast": false},
        "zones": {"yard": {"inertia": 5, "coordinates": "0,0,1,0,1,1"}, "street": null},
        "objects": {"track": ["person", "car"]}
    });
    let plan = apply_plan(&effective, &own, &overrides, &[]);
    let motion = &plan.applied["motion"];
    assert_eq!(
        motion["threshold"],
        BeforeAfter {
            before: json!(25),
            after: json!(30)
        }
    );
    assert_eq!(
        motion["mask"],
        BeforeAfter {
            before: json!("0,0,1,0,1,1"),
            after: Value::Null
        }
    );
    assert_eq!(
        motion["improve_contrast"],
        BeforeAfter {
            before: Value::Null,
            after: json!(false)
        }
    );
    // Set by the global section only: cannot be deleted on the camera.
    assert!(!motion.contains_key("contour_area"));
    assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
    assert!(
        plan.skipped[0].starts_with("motion.contour_area"),
        "{:?}",
        plan.skipped
    );
    // Unchanged coordinates and an absent zone's removal are not written.
    assert_eq!(
        plan.applied["zones"].keys().collect::<Vec<_>>(),
        vec!["yard.inertia"]
    );
    assert_eq!(
        plan.patches,
        vec![
            ("objects".to_string(), json!({"track": ["person", "car"]})),
            ("zones".to_string(), json!({"yard": {"inertia": 5}})),
            (
                "motion".to_string(),
                json!({"threshold": 30, "mask": "", "improve_contrast": false})
            ),
        ]
    );
    // Only the sections asked for.
    let plan = apply_plan(&effective, &own, &overrides, &strings(&["zones"]));
    assert_eq!(plan.applied.keys().collect::<Vec<_>>(), vec!["zones"]);
    assert_eq!(plan.patches.len(), 1);
    // A whole section removed.
    let plan = apply_plan(&effective, &own, &json!({"zones": null}), &[]);
    assert_eq!(plan.patches, vec![("zones".to_string(), json!(""))]);
    assert!(plan.applied["zones"].contains_key(WHOLE_SECTION));
    // Nothing differs: nothing to write.
    let plan = apply_plan(&effective, &own, &json!({"motion": {"threshold": 25}}), &[]);
    assert!(plan.patches.is_empty() && plan.applied.is_empty());
}

#[test]
fn speed_is_formatted_minimally() {
    assert_eq!(format_speed(4.0), "4");
    assert_eq!(format_speed(0.25), "0.25");
    assert_eq!(format_speed(1.5), "1.5");
    assert_eq!(format_speed(16.0), "16");
    assert!(check_speed(0.25).is_ok() && check_speed(16.0).is_ok());
    assert!(
        check_speed(0.2).is_err() && check_speed(f64::NAN).is_err() && check_speed(17.0).is_err()
    );
}
