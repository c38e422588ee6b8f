//! `replayctl`'s protocol 2 commands against the real daemon: what they
//! say and how they exit when there is nothing to tune, and a session
//! started with overrides shown back by `status` and `diff`.

mod common;

use common::*;
use std::process::{Command, Output, Stdio};

/// Runs replayctl against `root`'s daemon, stdin not a terminal.
fn replayctl(root: &TestRoot, args: &[&str]) -> Output {
    let out = Command::new(replayctl_bin())
        .arg("--socket")
        .arg(root.socket())
        .args(args)
        .env_remove("REPLAYD_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run replayctl");
    eprintln!(
        "replayctl {args:?} -> {}\n  stdout: {}\n  stderr: {}",
        out.status,
        text(&out.stdout).trim(),
        text(&out.stderr).trim()
    );
    out
}

/// Runs `replayctl --socket S ARGS` on a pseudo-terminal (util-linux's
/// `script`), typing `input`; the output is the terminal's (`\r\n` lines,
/// stdout and stderr together).
fn on_a_terminal(root: &TestRoot, args: &str, input: &str) -> Output {
    use std::io::Write as _;
    let command = format!(
        "{} --socket {} {args}",
        replayctl_bin().display(),
        root.socket().display()
    );
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_remove("REPLAYD_SOCKET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("type the answer");
    drop(stdin);
    let out = child.wait_with_output().expect("script");
    eprintln!(
        "replayctl {args} on a terminal -> {}\n  {}",
        out.status,
        text(&out.stdout).trim()
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tuning_commands_on_an_idle_daemon() {
    let root = TestRoot::new();
    let _daemon = Daemon::spawn(&root);

    // diff: nothing active is exit 1 with a message saying so, stdout empty.
    let out = replayctl(&root, &["diff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("not_active") && err.contains("no replay session is active"),
        "{err}"
    );

    // set: the daemon refuses it as not_active.
    let out = replayctl(&root, &["set", "motion.threshold=30"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not_active"),
        "{}",
        text(&out.stderr)
    );
    let out = replayctl(&root, &["set", "--reset", "*"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not_active"),
        "{}",
        text(&out.stderr)
    );

    // Usage errors never reach the daemon: exit 2.
    for args in [
        &["apply", "motion"][..],
        &["set", "record.enabled=false"],
        &["start", "front", "--file", "/etc/passwd"],
        &["start", "front", "--last", "5m", "--speed", "100"],
    ] {
        let out = replayctl(&root, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = replayctl(&root, &["apply", "motion"]);
    assert!(
        text(&out.stderr).contains("pass --yes"),
        "{}",
        text(&out.stderr)
    );

    // Nothing of it started anything.
    let status = Client::connect(root.socket()).cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert!(status["job"].is_null(), "{status}");
}

#[test]
fn a_session_started_with_overrides_shows_them() {
    let root = TestRoot::new();
    let _daemon = Daemon::spawn(&root);
    let base = root.base_time();
    let (from, to) = (format!("{}", base + 3.0), format!("{}", base + 13.0));
    let out = replayctl(
        &root,
        &[
            "start",
            "front",
            "--from",
            &from,
            "--to",
            &to,
            "--speed",
            "4",
            "--set",
            "motion.threshold=25",
            "--set",
            "motion.improve_contrast=false",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("is ready"),
        "{}",
        text(&out.stdout)
    );

    let out = replayctl(&root, &["status"]);
    let status = text(&out.stdout);
    assert!(status.contains("\nspeed:       4x"), "{status}");
    assert!(
        status.contains(
            "overrides:   motion.improve_contrast: false\n             motion.threshold: 25\n"
        ),
        "{status}"
    );

    let out = replayctl(&root, &["diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "cameras:\n  front:\n    motion:\n      improve_contrast: false\n      threshold: 25\n"
    );

    // On a terminal apply shows what it would write and asks; "n" writes
    // nothing and exits 1 without a request.
    let out = on_a_terminal(&root, "apply motion", "n\n");
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("cameras:\r\n  front:\r\n    motion:\r\n      improve_contrast: false"),
        "{shown:?}"
    );
    assert!(
        shown.contains("Apply these to camera front? [y/N]"),
        "{shown}"
    );
    assert!(shown.contains("not applied"), "{shown}");
    // Nothing to show in a section the overrides do not touch: not asked.
    let out = on_a_terminal(&root, "apply zones", "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("no overrides in zones"),
        "{}",
        text(&out.stdout)
    );

    // The file publisher never writes the NVR's config: apply is refused.
    let out = replayctl(&root, &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unsupported"),
        "{}",
        text(&out.stderr)
    );

    let out = replayctl(&root, &["stop"]);
    assert_eq!(out.status.code(), Some(0));
    let stopped = text(&out.stdout);
    assert!(
        stopped.contains("overrides:   motion.improve_contrast: false"),
        "{stopped}"
    );
}
