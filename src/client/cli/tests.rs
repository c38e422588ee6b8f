use super::*;
use crate::client::time::FixedOffset;

const NOW: f64 = 1_795_514_400.0;

fn parse(args: &[&str]) -> Result<Invocation, clap::Error> {
    parse_env(args, None)
}

fn parse_env(args: &[&str], env: Option<&str>) -> Result<Invocation, clap::Error> {
    parse_with(args, env, true)
}

/// Overrides files the tests name: `sections.yml`, `pasted.yml`, `bad.yml`,
/// `list.yml`, `empty.yml`; any other name does not exist.
fn read_fixture(path: &Path) -> std::io::Result<Vec<u8>> {
    let text = match path.to_str() {
        Some("sections.yml") => {
            "motion:\n  threshold: 30\n  mask: 0,0,1,0,1,1\nzones:\n  yard:\n    inertia: 3\n"
        }
        Some("pasted.yml") => "cameras:\n  front:\n    motion:\n      threshold: 30\n",
        Some("bad.yml") => "motion: [1, 2\n",
        Some("list.yml") => "- motion\n",
        Some("empty.yml") => "",
        Some("huge.yml") => return Ok(vec![b'#'; overrides::MAX_FILE + 1]),
        _ => return Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    Ok(text.as_bytes().to_vec())
}

fn parse_with(args: &[&str], env: Option<&str>, terminal: bool) -> Result<Invocation, clap::Error> {
    let cli = Cli::try_parse_from(std::iter::once("replayctl").chain(args.iter().copied()))?;
    let zone = FixedOffset(0);
    let env = Env {
        socket: env.map(OsString::from),
        now: NOW,
        zone: &zone,
        terminal,
        read_file: &read_fixture,
    };
    resolve(cli, &env)
}

fn start_request(args: &[&str]) -> Request {
    match parse(args)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .action
    {
        Action::Start { request, .. } => request,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn options_of(request: &Request) -> &StartOptions {
    match request {
        Request::Start { options, .. }
        | Request::StartFromExport { options, .. }
        | Request::StartFromFile { options, .. } => options,
        other => panic!("not a start: {other:?}"),
    }
}

fn start(camera: &str, start_time: f64, end_time: f64) -> Action {
    Action::Start {
        request: Request::Start {
            camera: camera.into(),
            start_time,
            end_time,
            options: Default::default(),
        },
        wait: true,
    }
}

#[test]
fn command_shapes() {
    let cases: Vec<(&[&str], Action)> = vec![
        (&["status"], Action::Status),
        (&["stop"], Action::Stop),
        (&["watch"], Action::Watch),
        (&["ping"], Action::Ping),
        (
            &["start", "front", "--last", "5m"],
            start("front", NOW - 300.0, NOW),
        ),
        (
            &["start", "front", "--from", "-10m", "--to", "-5m"],
            start("front", NOW - 600.0, NOW - 300.0),
        ),
        (
            &["start", "--from=2026-11-24 09:00", "--to", "now", "front"],
            start("front", NOW - 3600.0, NOW),
        ),
        (
            &[
                "start",
                "front",
                "--from",
                "1795510800",
                "--to",
                "2026-11-24T10:00:00Z",
            ],
            start("front", NOW - 3600.0, NOW),
        ),
        (
            &["start", "--export", "front_1795-ab"],
            Action::Start {
                request: Request::StartFromExport {
                    export_id: "front_1795-ab".into(),
                    options: Default::default(),
                },
                wait: true,
            },
        ),
        (
            &["start", "--no-wait", "front", "--last", "90s"],
            Action::Start {
                request: Request::Start {
                    camera: "front".into(),
                    start_time: NOW - 90.0,
                    end_time: NOW,
                    options: Default::default(),
                },
                wait: false,
            },
        ),
    ];
    for (args, want) in cases {
        let got = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(got.action, want, "{args:?}");
        assert!(!got.json);
    }
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["start"],
        &["start", "front"],
        &["start", "front", "--from", "-5m"],
        &["start", "front", "--to", "-5m"],
        &[
            "start", "front", "--last", "5m", "--from", "-5m", "--to", "now",
        ],
        &["start", "front", "--export", "e1"],
        &["start", "--export", "e1", "--last", "5m"],
        &["start", "--last", "5m"],
        &["start", "front", "--last", "5"],
        &["start", "front", "--last", "-5m"],
        &["start", "front", "--from", "yesterday", "--to", "now"],
        &[
            "start",
            "front",
            "--from",
            "2026-13-01 10:00",
            "--to",
            "now",
        ],
        &["start", "front", "--from", "-5x", "--to", "now"],
        &["start", "front", "--from", "NaN", "--to", "now"],
        &["start", "front", "--from", "-5m", "--to", "-10m"],
        &["start", "front", "--from", "now", "--to", "now"],
        &["status", "extra"],
        &["--socket"],
        // start options
        &["start", "front", "--last", "5m", "--speed", "fast"],
        &["start", "front", "--last", "5m", "--speed", "NaN"],
        &["start", "front", "--last", "5m", "--speed", "inf"],
        &["start", "front", "--last", "5m", "--speed", "0"],
        &["start", "front", "--last", "5m", "--speed", "-2"],
        &["start", "front", "--last", "5m", "--speed", "17"],
        &["start", "front", "--last", "5m", "--clip-mode", "hardlink"],
        &[
            "start",
            "front",
            "--last",
            "5m",
            "--set",
            "motion.threshold",
        ],
        &[
            "start",
            "front",
            "--last",
            "5m",
            "--set",
            "record.enabled=false",
        ],
        &[
            "start",
            "front",
            "--last",
            "5m",
            "--set",
            "motion..threshold=1",
        ],
        &[
            "start",
            "front",
            "--last",
            "5m",
            "--set",
            "motion.threshold=[1",
        ],
        &[
            "start",
            "front",
            "--last",
            "5m",
            "--overrides",
            "missing.yml",
        ],
        &["start", "front", "--last", "5m", "--overrides", "bad.yml"],
        &["start", "front", "--last", "5m", "--overrides", "list.yml"],
        &["start", "front", "--last", "5m", "--overrides", "huge.yml"],
        // --file: with a camera, without a range or an export
        &["start", "--file", "bug.mp4"],
        &["start", "front", "--file", "bug.mp4", "--export", "e1"],
        &["start", "--export", "e1", "--file", "bug.mp4"],
        &["start", "front", "--file", "bug.mp4", "--last", "5m"],
        &[
            "start", "front", "--file", "bug.mp4", "--from", "-5m", "--to", "now",
        ],
        &["start", "front", "--file", "/srv/import/bug.mp4"],
        &["start", "front", "--file", ""],
        // set
        &["set"],
        &["set", "motion.threshold"],
        &["set", "threshold=3"],
        &["set", "--reset"],
        &["set", "--reset", "record"],
        &["set", "--reset", "motion.threshold", "motion.mask=null"],
        &["set", "--overrides", "empty.yml"],
        &["set", "--overrides", "bad.yml"],
        // diff, apply
        &["diff", "motion"],
        &["apply", "record", "--yes"],
        &["apply", "--yes", "--yes"],
    ];
    for args in cases {
        match parse(args) {
            Ok(got) => panic!("{args:?} accepted: {got:?}"),
            Err(e) => assert_eq!(e.exit_code(), 2, "{args:?}: {e}"),
        }
    }
}

#[test]
fn socket_precedence() {
    let got = parse_env(&["ping"], None).expect("ping");
    assert_eq!(got.socket, PathBuf::from(DEFAULT_SOCKET));
    let got = parse_env(&["ping"], Some("/tmp/env.sock")).expect("ping");
    assert_eq!(got.socket, PathBuf::from("/tmp/env.sock"));
    let got = parse_env(&["ping"], Some("")).expect("ping");
    assert_eq!(got.socket, PathBuf::from(DEFAULT_SOCKET));
    let got = parse_env(
        &["--socket", "/tmp/a.sock", "--json", "ping"],
        Some("/tmp/env.sock"),
    )
    .expect("ping");
    assert_eq!(got.socket, PathBuf::from("/tmp/a.sock"));
    assert!(got.json);
    // Global options also go after the subcommand.
    let got = parse_env(&["status", "--json", "--socket=/tmp/b.sock"], None).expect("status");
    assert_eq!(got.socket, PathBuf::from("/tmp/b.sock"));
    assert!(got.json);
}

#[test]
fn bad_time_message_names_the_value() {
    let err = parse(&["start", "front", "--from", "yesterday", "--to", "now"]).unwrap_err();
    assert!(
        err.to_string().contains("invalid time 'yesterday'"),
        "{err}"
    );
}

#[test]
fn start_options() {
    let r = start_request(&[
        "start",
        "front",
        "--last",
        "5m",
        "--speed",
        "4",
        "--clip-mode",
        "link",
        "--set",
        "motion.threshold=25",
        "--set=zones.yard.coordinates=0,0,1.0,0,1.0,1.0",
        "--set",
        "objects.track=[person, car]",
        "--set",
        "motion.mask=null",
    ]);
    assert_eq!(
        r,
        Request::Start {
            camera: "front".into(),
            start_time: NOW - 300.0,
            end_time: NOW,
            options: StartOptions {
                speed: Some(4.0),
                overrides: Some(serde_json::json!({
                    "motion": {"threshold": 25, "mask": null},
                    "zones": {"yard": {"coordinates": "0,0,1.0,0,1.0,1.0"}},
                    "objects": {"track": ["person", "car"]},
                })),
                clip_mode: Some(ClipMode::Link),
            },
        }
    );
    // On the wire: the protocol 2 fields beside the range.
    let line = crate::protocol::encode_request(&r);
    let wire: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(wire["speed"], 4.0);
    assert_eq!(wire["clip_mode"], "link");
    assert_eq!(wire["overrides"]["motion"]["threshold"], 25);

    // Without options nothing extra is sent (a protocol 1 daemon takes it).
    let r = start_request(&["start", "front", "--last", "5m"]);
    assert_eq!(options_of(&r), &StartOptions::default());
    let line = crate::protocol::encode_request(&r);
    assert!(
        !line.contains("speed") && !line.contains("overrides"),
        "{line}"
    );

    for (mode, want) in [
        ("auto", ClipMode::Auto),
        ("copy", ClipMode::Copy),
        ("link", ClipMode::Link),
    ] {
        let r = start_request(&["start", "front", "--last", "5m", "--clip-mode", mode]);
        assert_eq!(options_of(&r).clip_mode, Some(want));
    }
    for (speed, want) in [("0.25", 0.25), ("16", 16.0), ("1.5", 1.5)] {
        let r = start_request(&["start", "front", "--last", "5m", "--speed", speed]);
        assert_eq!(options_of(&r).speed, Some(want));
    }
}

#[test]
fn set_merges_over_the_overrides_file() {
    let r = start_request(&[
        "start",
        "front",
        "--last",
        "5m",
        "--overrides",
        "sections.yml",
        "--set",
        "motion.threshold=25",
        "--set",
        "zones.yard.objects=[person]",
    ]);
    assert_eq!(
        options_of(&r).overrides,
        Some(serde_json::json!({
            "motion": {"threshold": 25, "mask": "0,0,1,0,1,1"},
            "zones": {"yard": {"inertia": 3, "objects": ["person"]}},
        }))
    );
    // What `diff` printed reads back; an empty file is no overrides.
    let r = start_request(&[
        "start",
        "front",
        "--last",
        "5m",
        "--overrides",
        "pasted.yml",
    ]);
    assert_eq!(
        options_of(&r).overrides,
        Some(serde_json::json!({"motion": {"threshold": 30}}))
    );
    let r = start_request(&["start", "front", "--last", "5m", "--overrides", "empty.yml"]);
    assert_eq!(options_of(&r).overrides, None);
}

#[test]
fn start_from_export_and_file_take_the_options() {
    let r = start_request(&[
        "start",
        "--export",
        "front_1795-ab",
        "--speed",
        "2",
        "--set",
        "motion.threshold=40",
        "--clip-mode",
        "copy",
    ]);
    assert_eq!(
        r,
        Request::StartFromExport {
            export_id: "front_1795-ab".into(),
            options: StartOptions {
                speed: Some(2.0),
                overrides: Some(serde_json::json!({"motion": {"threshold": 40}})),
                clip_mode: Some(ClipMode::Copy),
            },
        }
    );
    let r = start_request(&[
        "start",
        "front",
        "--file",
        "bugs/1234.mp4",
        "--speed",
        "0.5",
        "--overrides",
        "sections.yml",
    ]);
    match &r {
        Request::StartFromFile {
            camera,
            path,
            options,
        } => {
            assert_eq!(camera, "front");
            assert_eq!(path, "bugs/1234.mp4");
            assert_eq!(options.speed, Some(0.5));
            assert_eq!(
                options.overrides.as_ref().unwrap()["zones"]["yard"]["inertia"],
                3
            );
        }
        other => panic!("{other:?}"),
    }
    let wire = crate::protocol::encode_request(&r);
    assert!(wire.contains(r#""cmd":"start_from_file""#), "{wire}");
}

#[test]
fn file_with_export_is_refused() {
    let err = parse(&["start", "--export", "e1", "--file", "bug.mp4"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--file"), "{err}");
    let err = parse(&["start", "front", "--file", "/srv/import/bug.mp4"]).unwrap_err();
    assert!(err.to_string().contains("import dir"), "{err}");
}

fn update_of(args: &[&str]) -> (Option<Value>, Vec<String>) {
    match parse(args)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .action
    {
        Action::Set {
            request: Request::Update { overrides, reset },
        } => (overrides, reset),
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn set_forms() {
    let (o, r) = update_of(&["set", "motion.threshold=30", "zones.yard.inertia=5"]);
    assert_eq!(
        o,
        Some(serde_json::json!({"motion": {"threshold": 30}, "zones": {"yard": {"inertia": 5}}}))
    );
    assert!(r.is_empty());

    let (o, r) = update_of(&["set", "--reset", "motion.threshold", "zones.yard"]);
    assert_eq!(o, None);
    assert_eq!(r, ["motion.threshold", "zones.yard"]);

    let (o, r) = update_of(&["set", "--reset", "*"]);
    assert_eq!((o, r), (None, vec!["*".to_string()]));

    let (o, r) = update_of(&[
        "set",
        "motion.mask=null",
        "--overrides",
        "sections.yml",
        "--reset",
        "objects",
    ]);
    assert_eq!(
        o,
        Some(serde_json::json!({
            "motion": {"threshold": 30, "mask": null},
            "zones": {"yard": {"inertia": 3}},
        }))
    );
    assert_eq!(r, ["objects"]);

    let wire = crate::protocol::encode_request(&Request::Update {
        overrides: None,
        reset: vec!["*".into()],
    });
    assert_eq!(
        wire,
        "{\"cmd\":\"update\",\"overrides\":null,\"reset\":[\"*\"]}\n"
    );
}

#[test]
fn bad_set_messages_name_the_key() {
    let err = parse(&["set", "record.enabled=false"]).unwrap_err();
    assert!(
        err.to_string().contains("'record' is not a section"),
        "{err}"
    );
    let err = parse(&["set", "--reset", "motion.threshold", "motion.mask=null"]).unwrap_err();
    assert!(err.to_string().contains("go before --reset"), "{err}");
    let err = parse(&["start", "front", "--last", "5m", "--overrides", "bad.yml"]).unwrap_err();
    assert!(err.to_string().contains("overrides file bad.yml"), "{err}");
    let err = parse(&[
        "start",
        "front",
        "--last",
        "5m",
        "--overrides",
        "missing.yml",
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read overrides file missing.yml"),
        "{err}"
    );
}

#[test]
fn diff_and_apply() {
    assert_eq!(parse(&["diff"]).unwrap().action, Action::Diff);
    let cases: Vec<(&[&str], Vec<&str>, bool)> = vec![
        (&["apply"], vec![], true),
        (&["apply", "--yes"], vec![], false),
        (
            &["apply", "-y", "motion", "zones", "motion"],
            vec!["motion", "zones"],
            false,
        ),
        (&["apply", "lpr"], vec!["lpr"], true),
    ];
    for (args, sections, ask) in cases {
        let want = Action::Apply {
            sections: sections.iter().map(|s| s.to_string()).collect(),
            ask,
        };
        assert_eq!(parse(args).unwrap().action, want, "{args:?}");
    }
}

#[test]
fn apply_without_a_terminal_needs_yes() {
    let err = parse_with(&["apply", "motion"], None, false).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("pass --yes"), "{err}");
    let got = parse_with(&["apply", "motion", "--yes"], None, false).unwrap();
    assert_eq!(
        got.action,
        Action::Apply {
            sections: vec!["motion".into()],
            ask: false
        }
    );
}
