use super::*;
use serde_json::json;

fn assign(text: &str) -> (Vec<String>, Value) {
    parse_assignment(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn path(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

#[test]
fn assignments_parse_their_value_as_yaml() {
    let cases: &[(&str, &[&str], Value)] = &[
        ("motion.threshold=25", &["motion", "threshold"], json!(25)),
        (
            "motion.contour_area=10.5",
            &["motion", "contour_area"],
            json!(10.5),
        ),
        ("detect.enabled=true", &["detect", "enabled"], json!(true)),
        ("motion.mask=null", &["motion", "mask"], Value::Null),
        // Nothing after '=' is YAML's null: the key is removed.
        ("motion.mask=", &["motion", "mask"], Value::Null),
        (
            "zones.yard.coordinates=0.1,0.2,0.3,0.2,0.3,0.4",
            &["zones", "yard", "coordinates"],
            json!("0.1,0.2,0.3,0.2,0.3,0.4"),
        ),
        // Coordinates stay the string the user wrote, "1.0" included.
        (
            "zones.yard.coordinates=0,0,1.0,0,1.0,1.0",
            &["zones", "yard", "coordinates"],
            json!("0,0,1.0,0,1.0,1.0"),
        ),
        (
            "objects.track=[person, car]",
            &["objects", "track"],
            json!(["person", "car"]),
        ),
        (
            "zones.yard.objects=person",
            &["zones", "yard", "objects"],
            json!("person"),
        ),
        ("lpr.min_area='25'", &["lpr", "min_area"], json!("25")),
        // The first '=' splits; the rest is the value.
        ("motion.mask=a=b", &["motion", "mask"], json!("a=b")),
        (
            "objects.filters.person={min_area: 5000, threshold: 0.7}",
            &["objects", "filters", "person"],
            json!({"min_area": 5000, "threshold": 0.7}),
        ),
        (
            "motion={threshold: 30}",
            &["motion"],
            json!({"threshold": 30}),
        ),
        ("face_recognition=null", &["face_recognition"], Value::Null),
    ];
    for (text, want_path, want_value) in cases {
        let (p, v) = assign(text);
        assert_eq!(p, path(want_path), "{text}");
        assert_eq!(&v, want_value, "{text}");
    }
}

#[test]
fn bad_assignments_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("motion.threshold", "is not KEY=VALUE"),
        ("=25", "bad key ''"),
        ("motion..threshold=1", "empty part"),
        (".threshold=1", "empty part"),
        ("motion.=1", "empty part"),
        ("motion thresh=1", "space"),
        ("record.enabled=true", "'record' is not a section"),
        (
            "cameras.front.motion.threshold=1",
            "'cameras' is not a section",
        ),
        ("motion.threshold=[1, 2", "bad value for motion.threshold"),
        ("motion.threshold=.nan", "is not a finite number"),
        ("motion.threshold=!secret x", "YAML tag !secret"),
        ("motion=30", "motion is a section"),
    ];
    for (text, want) in cases {
        match parse_assignment(text) {
            Ok(got) => panic!("{text} accepted: {got:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{text}: {e}"),
        }
    }
}

#[test]
fn reset_keys() {
    assert_eq!(parse_reset_key("*").unwrap(), "*");
    assert_eq!(parse_reset_key("zones.yard").unwrap(), "zones.yard");
    assert_eq!(parse_reset_key("motion").unwrap(), "motion");
    assert!(parse_reset_key("motion.threshold=3")
        .unwrap_err()
        .to_string()
        .contains("go before --reset"));
    assert!(parse_reset_key("record").is_err());
    assert!(parse_reset_key("a.*").is_err());
}

#[test]
fn files_hold_sections_or_what_diff_printed() {
    let plain = "motion:\n  threshold: 30\nzones:\n  yard:\n    inertia: 5\n";
    let want = json!({"motion": {"threshold": 30}, "zones": {"yard": {"inertia": 5}}});
    assert_eq!(parse_file(plain).unwrap(), want);
    let pasted = "cameras:\n  front:\n    motion:\n      threshold: 30\n    zones:\n      yard:\n        inertia: 5\n";
    assert_eq!(parse_file(pasted).unwrap(), want);
    // diff's own output reads back.
    assert_eq!(parse_file(&paste_yaml("front", &want)).unwrap(), want);
    assert_eq!(parse_file("").unwrap(), json!({}));
    assert_eq!(parse_file("# nothing yet\n").unwrap(), json!({}));
    // Merge keys are applied.
    let merged = "base: &b {threshold: 20}\n";
    assert!(parse_file(merged).is_err(), "'base' is not a section");
    let merged = "motion:\n  <<: {threshold: 20, lightning_threshold: 0.8}\n  threshold: 30\n";
    assert_eq!(
        parse_file(merged).unwrap(),
        json!({"motion": {"threshold": 30, "lightning_threshold": 0.8}})
    );
}

#[test]
fn bad_files_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("motion: [1, 2", "not YAML"),
        ("- motion\n", "must be a mapping of sections"),
        ("42\n", "must be a mapping of sections"),
        ("record:\n  enabled: false\n", "'record' is not a section"),
        ("motion: 30\n", "motion: must be a mapping"),
        ("cameras:\n  front: {}\n  back: {}\n", "exactly one camera"),
    ];
    for (text, want) in cases {
        match parse_file(text) {
            Ok(got) => panic!("{text:?} accepted: {got}"),
            Err(e) => assert!(e.to_string().contains(want), "{text:?}: {e}"),
        }
    }
}

#[test]
fn assignments_merge_over_the_file() {
    let file = json!({
        "motion": {"threshold": 30, "mask": "0,0,1,0,1,1"},
        "objects": {"track": ["person"]},
    });
    let sets = [
        assign("motion.threshold=25"),
        assign("motion.mask=null"),
        assign("objects.track=[car]"),
        assign("zones.yard.inertia=5"),
        assign("zones.yard.inertia=6"),
    ];
    let got = build(Some(file), &sets).expect("overrides");
    assert_eq!(
        got,
        json!({
            "motion": {"threshold": 25, "mask": null},
            "objects": {"track": ["car"]},
            "zones": {"yard": {"inertia": 6}},
        })
    );
    // A mapping merges into what is there; a scalar over a map replaces it.
    let got = build(
        None,
        &[
            assign("motion={threshold: 30}"),
            assign("motion={improve_contrast: true}"),
            assign("zones.yard=null"),
            assign("zones.yard.inertia=3"),
        ],
    )
    .unwrap();
    assert_eq!(
        got,
        json!({"motion": {"threshold": 30, "improve_contrast": true}, "zones": {"yard": {"inertia": 3}}})
    );
    assert_eq!(build(None, &[]), None);
    assert_eq!(build(Some(json!({})), &[]), None);
}

#[test]
fn shown_for_a_person() {
    let o = json!({
        "motion": {"threshold": 25, "mask": null},
        "zones": {"yard": {"coordinates": "0,0,1.0,0", "objects": ["person"]}},
        "detect": {},
    });
    assert_eq!(
        leaf_lines(&o),
        vec![
            "detect: {}",
            "motion.mask: null",
            "motion.threshold: 25",
            "zones.yard.coordinates: \"0,0,1.0,0\"",
            "zones.yard.objects: [\"person\"]",
        ]
    );
    assert!(leaf_lines(&json!({})).is_empty());
    assert!(leaf_lines(&Value::Null).is_empty());
    assert_eq!(
        paste_yaml("front", &json!({"motion": {"threshold": 25}, "zones": {"yard": {"coordinates": "0,0,1.0,0"}}})),
        "cameras:\n  front:\n    motion:\n      threshold: 25\n    zones:\n      yard:\n        coordinates: 0,0,1.0,0\n"
    );
    // Strings that would read back as something else stay strings.
    let yaml = to_yaml(&json!({"lpr": {"min_area": "25", "x": "true"}}));
    assert_eq!(
        parse_file(&yaml).unwrap(),
        json!({"lpr": {"min_area": "25", "x": "true"}})
    );
    assert_eq!(
        select(&o, &["motion".to_string()]),
        json!({"motion": {"threshold": 25, "mask": null}})
    );
    assert_eq!(select(&o, &[]), o);
    assert!(is_empty(None));
    assert!(is_empty(Some(&json!({}))));
    assert!(!is_empty(Some(&o)));
}
