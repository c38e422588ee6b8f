use super::*;

const PREFIX: &str = "_replay_";

fn frigate(name: &str) -> CameraEntry {
    CameraEntry {
        name: name.into(),
        publisher: Publisher::Frigate,
        nvr_url: Some("http://127.0.0.1:5000".into()),
        recorded_at: 1_795_514_400.5,
    }
}

fn file(name: &str) -> CameraEntry {
    CameraEntry {
        name: name.into(),
        publisher: Publisher::File,
        nvr_url: None,
        recorded_at: 1_795_514_400.0,
    }
}

fn full() -> Ledger {
    let mut l = Ledger::new(PREFIX);
    l.record_camera(frigate("_replay_front")).unwrap();
    l.record_camera(file("_replay_back-2")).unwrap();
    l.record_folder("_replay_front").unwrap();
    l.owe_rows("_replay_front").unwrap();
    l
}

#[test]
fn entries_are_recorded_and_dropped() {
    let mut l = Ledger::new(PREFIX);
    assert!(l.is_empty());
    assert!(!l.names_camera("_replay_front"));

    l.record_folder("_replay_front").unwrap();
    assert!(!l.is_empty());
    // A folder alone does not make an NVR camera replayd's.
    assert!(!l.names_camera("_replay_front"));

    l.record_camera(frigate("_replay_front")).unwrap();
    assert!(l.names_camera("_replay_front"));
    assert!(!l.names_camera("_replay_back"));
    // Recording again replaces, never duplicates.
    let mut again = frigate("_replay_front");
    again.recorded_at += 5.0;
    l.record_camera(again.clone()).unwrap();
    l.record_folder("_replay_front").unwrap();
    l.owe_rows("_replay_front").unwrap();
    l.owe_rows("_replay_front").unwrap();
    assert_eq!(l.cameras(), &[again]);
    assert_eq!(l.folders().len(), 1);
    assert_eq!(l.rows_owed(), &["_replay_front".to_string()]);

    assert!(l.drop_camera("_replay_front"));
    assert!(!l.drop_camera("_replay_front"));
    assert!(!l.names_camera("_replay_front"));
    assert!(l.drop_folder("_replay_front"));
    assert!(!l.drop_folder("_replay_front"));
    assert!(!l.is_empty());
    assert!(l.rows_deleted("_replay_front"));
    assert!(!l.rows_deleted("_replay_front"));
    assert!(l.is_empty());
}

#[test]
fn folder_paths_are_derived_from_names() {
    let l = full();
    assert_eq!(
        l.folders()[0].path(Path::new("/media/frigate/replayd")),
        Path::new("/media/frigate/replayd/_replay_front")
    );
}

#[test]
fn round_trips_through_json() {
    let l = full();
    let bytes = l.to_json().unwrap();
    assert!(bytes.ends_with(b"}\n"));
    assert_eq!(Ledger::from_json(&bytes, PREFIX), Ok(l));
    let empty = Ledger::new(PREFIX);
    assert_eq!(
        Ledger::from_json(&empty.to_json().unwrap(), PREFIX),
        Ok(empty)
    );
}

#[test]
fn the_documented_json_is_what_is_read() {
    let text = r#"{
      "schema": 1,
      "cameras": [{"name": "_replay_front", "publisher": "frigate",
                   "nvr_url": "http://127.0.0.1:5000", "recorded_at": 1795514400.0}],
      "folders": [{"camera": "_replay_front"}],
      "rows_owed": ["_replay_front"]
    }"#;
    let l = Ledger::from_json(text.as_bytes(), PREFIX).unwrap();
    assert!(l.names_camera("_replay_front"));
    assert_eq!(l.folders()[0].camera, "_replay_front");
}

#[test]
fn names_outside_the_rule_are_refused_when_recorded() {
    let mut l = Ledger::new(PREFIX);
    for bad in [
        "../../x",
        "_replay_../../etc",
        "_replay_a/b",
        "front",
        "_replay_",
        "",
        "_REPLAY_front",
        "_replay_front\n",
        "_replay_fr ont",
    ] {
        assert!(l.record_folder(bad).is_err(), "{bad:?}");
        assert!(l.owe_rows(bad).is_err(), "{bad:?}");
        assert!(l.record_camera(file(bad)).is_err(), "{bad:?}");
    }
    let long = format!("_replay_{}", "a".repeat(248));
    assert!(l.record_folder(&long).is_err());
    assert!(l.record_folder(&long[..255]).is_ok());
    assert_eq!(l.folders().len(), 1);
    assert!(l.cameras().is_empty() && l.rows_owed().is_empty());

    // Another prefix is someone else's.
    let mut other = Ledger::new("rp-");
    assert!(other.record_folder("_replay_front").is_err());
    assert!(other.record_folder("rp-front").is_ok());
}

#[test]
fn camera_entries_are_checked() {
    let mut l = Ledger::new(PREFIX);
    let cases = [
        CameraEntry {
            recorded_at: f64::NAN,
            ..file("_replay_a")
        },
        CameraEntry {
            recorded_at: -1.0,
            ..file("_replay_a")
        },
        CameraEntry {
            nvr_url: Some("http://127.0.0.1:5000".into()),
            ..file("_replay_a")
        },
        CameraEntry {
            nvr_url: None,
            ..frigate("_replay_a")
        },
        CameraEntry {
            nvr_url: Some("http://evil.example:80/steal".into()),
            ..frigate("_replay_a")
        },
        CameraEntry {
            nvr_url: Some("https://127.0.0.1:8971".into()),
            ..frigate("_replay_a")
        },
        CameraEntry {
            nvr_url: Some("http://127.0.0.1:5000/".into()),
            ..frigate("_replay_a")
        },
    ];
    for entry in cases {
        assert!(
            matches!(
                l.record_camera(entry.clone()),
                Err(LedgerError::InvalidCamera { .. })
            ),
            "{entry:?}"
        );
    }
    assert!(l.is_empty());
}

/// A file replayd did not write as it stands: refused whole, naming why.
#[test]
fn tampered_files_are_refused() {
    let valid = String::from_utf8(full().to_json().unwrap()).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            valid.replace("\"camera\": \"_replay_front\"", "\"camera\": \"../../x\""),
            "folders: '../../x' is not a replay camera name",
        ),
        (
            valid.replace("\"camera\": \"_replay_front\"", "\"camera\": \"front\""),
            "folders: 'front' is not a replay camera name",
        ),
        (
            valid.replace("\"name\": \"_replay_back-2\"", "\"name\": \"_replay_/etc\""),
            "cameras: '_replay_/etc' is not a replay camera name",
        ),
        (
            valid.replace("\"rows_owed\": [", "\"rows_owed\": [\"garage\","),
            "rows_owed: 'garage' is not a replay camera name",
        ),
        (
            valid.replace(
                "\"camera\": \"_replay_front\"",
                "\"camera\": \"_replay_front\", \"path\": \"/etc\"",
            ),
            "unknown field `path`",
        ),
        (
            valid.replace("\"schema\": 1,", "\"schema\": 1, \"extra\": [],"),
            "unknown field `extra`",
        ),
        (
            valid.replace("\"schema\": 1", "\"schema\": 2"),
            "unknown schema version 2",
        ),
        (
            valid.replace("\"schema\": 1,", ""),
            "missing field `schema`",
        ),
        (
            valid.replace("\"publisher\": \"file\"", "\"publisher\": \"ftp\""),
            "unknown variant `ftp`",
        ),
        (
            valid.replace("\"rows_owed\": [", "\"rows_owed\": [\"_replay_front\","),
            "rows_owed: '_replay_front' is listed twice",
        ),
        (
            valid.replace(
                "\"rows_owed\": [\n    \"_replay_front\"\n  ]",
                "\"rows_owed\": null",
            ),
            "invalid type: null",
        ),
        (valid[..valid.len() / 2].to_string(), "not a ledger"),
        (String::new(), "not a ledger"),
        ("[]".to_string(), "not a ledger"),
    ];
    for (text, want) in cases {
        assert_ne!(text, valid, "the replacement for {want:?} changed nothing");
        match Ledger::from_json(text.as_bytes(), PREFIX) {
            Ok(l) => panic!("accepted {text}: {l:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{e} does not say {want:?}"),
        }
    }
    // The same valid file read with another prefix is not this daemon's.
    assert!(matches!(
        Ledger::from_json(valid.as_bytes(), "rp-"),
        Err(LedgerError::InvalidName { .. })
    ));
}

#[test]
fn refusals_do_not_echo_control_characters() {
    let text =
        r#"{"schema":1,"cameras":[],"folders":[{"camera":"_replay_\u001b[2J"}],"rows_owed":[]}"#;
    let e = Ledger::from_json(text.as_bytes(), PREFIX).unwrap_err();
    assert!(!e.to_string().contains('\x1b'), "{e}");
}
