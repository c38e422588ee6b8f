use super::*;
use crate::client::time::FixedOffset;

const NOW: f64 = 1_795_514_400.0;

fn parse(args: &[&str]) -> Result<Invocation, clap::Error> {
    parse_env(args, None)
}

fn parse_env(args: &[&str], env: Option<&str>) -> Result<Invocation, clap::Error> {
    let cli = Cli::try_parse_from(std::iter::once("replayctl").chain(args.iter().copied()))?;
    resolve(cli, env.map(OsString::from), NOW, &FixedOffset(0))
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
