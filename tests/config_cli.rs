//! `replayd`'s command line and configuration loading (SPEC §1, §5, §6):
//! `--check-config` reports what it found, built-in defaults apply when
//! keys are left out, and every configuration error exits 78 (EX_CONFIG)
//! with a message naming the file, the line and the key.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EX_CONFIG: i32 = 78;

/// Runs replayd with `args` and `env` (after the scrub), stdin closed.
fn replayd<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(replayd_bin());
    cmd.args(args).stdin(std::process::Stdio::null());
    for name in common::daemon::SCRUBBED_ENV {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run replayd");
    eprintln!(
        "replayd {:?} -> {}\n--- stdout:\n{}--- stderr:\n{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `replayd --config <toml> --check-config`.
fn check_config(toml: &Path, env: &[(&str, &Path)]) -> Output {
    replayd(
        &[
            "--config".as_ref(),
            toml.as_os_str(),
            "--check-config".as_ref(),
        ],
        env,
    )
}

/// The configuration was read (exit 0, or 78 from a failed check of what a
/// start needs — a media root or database these tests do not make — never
/// from a configuration error).
fn assert_parsed(out: &Output) {
    let err = stderr(out);
    match out.status.code() {
        Some(0) => {}
        Some(78) => assert!(
            err.lines()
                .all(|l| l.starts_with("replayd: check failed: ")),
            "{err}"
        ),
        other => panic!("exit {other:?}: {err}"),
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The 1-based line of `path`'s text where `needle` first occurs.
fn line_of(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {}:\n{text}", path.display()))
        + 1
}

/// Asserts exit 78 with a message naming every one of `names`; returns stderr.
fn expect_config_error(out: &Output, names: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(EX_CONFIG),
        "expected exit 78, got {}; stderr: {err}",
        out.status
    );
    for name in names {
        assert!(err.contains(name), "stderr does not name {name:?}: {err}");
    }
    // One clear message, not a panic or a backtrace.
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The value after `label: ` on its own line of `--check-config` output.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no '{label}:' line in:\n{text}"))
}

/// The NVR config without its `database:` section.
fn nvr_config_without_database() -> String {
    let text = common::root::NVR_CONFIG;
    let start = text.find("database:\n").unwrap();
    let end = start + text[start..].find("\n\n").unwrap() + 2;
    format!("{}{}", &text[..start], &text[end..])
}

// ---- --check-config ----

#[test]
fn check_config_reports_cameras_database_and_media_root() {
    let root = TestRoot::new();
    let out = check_config(&root.toml_path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let cameras = field(&text, "cameras (3)");
    let mut names: Vec<&str> = cameras.split(", ").collect();
    names.sort();
    assert_eq!(names, ["back", "front", "front_door-yard"], "{text}");
    assert_eq!(
        field(&text, "NVR config"),
        root.nvr_config_path().display().to_string()
    );
    assert_eq!(
        field(&text, "database"),
        root.db_path().display().to_string()
    );
    assert_eq!(
        field(&text, "media root"),
        root.media().display().to_string()
    );
    assert_eq!(
        field(&text, "control socket"),
        root.socket().display().to_string()
    );
    // It only checks: no socket, no state, nothing else started.
    assert!(!root.socket().exists(), "--check-config bound the socket");
    assert!(!root.session_file().exists());
}

#[test]
fn built_in_defaults_fill_what_replayd_toml_leaves_out() {
    let root = TestRoot::new();
    let nvr = root.nvr_config_path();

    // Only [runtime] set; the NVR config comes from $CONFIG_FILE, the
    // database from its database.path, the media root is the default.
    let toml = root.path().join("runtime-only.toml");
    let run = root.path().join("rt");
    std::fs::write(
        &toml,
        format!("[runtime]\ndir = {:?}\n", run.display().to_string()),
    )
    .unwrap();
    let out = check_config(&toml, &[("CONFIG_FILE", &nvr)]);
    assert_parsed(&out);
    let text = stdout(&out);
    assert_eq!(field(&text, "media root"), "/media/frigate", "{text}");
    assert_eq!(field(&text, "NVR config"), nvr.display().to_string());
    assert_eq!(
        field(&text, "database"),
        root.db_path().display().to_string()
    );
    assert_eq!(field(&text, "runtime dir"), run.display().to_string());
    assert_eq!(
        field(&text, "control socket"),
        run.join("control.sock").display().to_string()
    );

    // An empty replayd.toml: the runtime dir is $RUNTIME_DIRECTORY's first
    // entry (systemd joins several with ':').
    let empty = root.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let rt = PathBuf::from("/run/replayd-test-a:/run/replayd-test-b");
    let out = check_config(&empty, &[("CONFIG_FILE", &nvr), ("RUNTIME_DIRECTORY", &rt)]);
    assert_parsed(&out);
    let text = stdout(&out);
    assert_eq!(field(&text, "runtime dir"), "/run/replayd-test-a", "{text}");
    assert_eq!(
        field(&text, "control socket"),
        "/run/replayd-test-a/control.sock"
    );
    assert_eq!(field(&text, "media root"), "/media/frigate");

    // No $RUNTIME_DIRECTORY: /run/replayd.
    let out = check_config(&empty, &[("CONFIG_FILE", &nvr)]);
    assert_parsed(&out);
    let text = stdout(&out);
    assert_eq!(field(&text, "runtime dir"), "/run/replayd", "{text}");
    assert_eq!(field(&text, "control socket"), "/run/replayd/control.sock");

    // An NVR config without database.path: Frigate's default database,
    // /config/frigate.db, on this host: the NVR config's folder plays
    // /config (an implied mount, SPEC §1).
    let no_db = root.path().join("config/no-db.yml");
    std::fs::write(&no_db, nvr_config_without_database()).unwrap();
    let out = check_config(&empty, &[("CONFIG_FILE", &no_db)]);
    assert_parsed(&out);
    assert_eq!(
        field(&stdout(&out), "database"),
        root.path().join("config/frigate.db").to_string_lossy()
    );

    // [nvr] database overrides the NVR config's database.path, and [nvr]
    // config wins over $CONFIG_FILE.
    let toml = root.path().join("db-override.toml");
    std::fs::write(
        &toml,
        format!(
            "[nvr]\nconfig = {:?}\ndatabase = \"/srv/other/frigate.db\"\n",
            nvr.display().to_string()
        ),
    )
    .unwrap();
    let elsewhere = root.path().join("does-not-exist.yml");
    let out = check_config(&toml, &[("CONFIG_FILE", &elsewhere)]);
    assert_parsed(&out);
    let text = stdout(&out);
    assert_eq!(field(&text, "database"), "/srv/other/frigate.db");
    assert_eq!(field(&text, "NVR config"), nvr.display().to_string());
}

#[test]
fn no_config_file_at_all_means_built_in_defaults() {
    // Only meaningful on a host without an installed replayd or NVR; the
    // build machines are such hosts, so fail loudly rather than skip.
    assert!(
        !Path::new("/etc/replayd/replayd.toml").exists() && !Path::new("/config").exists(),
        "this test needs a host without /etc/replayd/replayd.toml and /config"
    );
    let root = TestRoot::new();

    // No --config, no file at the default path: every key is built in, and
    // the NVR config is $CONFIG_FILE.
    let nvr = root.nvr_config_path();
    let out = replayd(&["--check-config"], &[("CONFIG_FILE", &nvr)]);
    assert_parsed(&out);
    let text = stdout(&out);
    assert_eq!(field(&text, "NVR config"), nvr.display().to_string());
    assert_eq!(field(&text, "media root"), "/media/frigate");
    assert_eq!(field(&text, "runtime dir"), "/run/replayd");
    assert_eq!(field(&text, "control socket"), "/run/replayd/control.sock");
    assert_eq!(
        field(&text, "database"),
        root.db_path().display().to_string()
    );

    // Without $CONFIG_FILE the NVR config is /config/config.yml, which is
    // missing here: exit 78 naming it.
    let out = replayd(&["--check-config"], &[]);
    expect_config_error(&out, &["/config/config.yml"]);
    // An empty $CONFIG_FILE counts as unset.
    let out = replayd(&["--check-config"], &[("CONFIG_FILE", Path::new(""))]);
    expect_config_error(&out, &["/config/config.yml"]);
}

#[test]
fn a_json_nvr_config_is_read_too() {
    let root = TestRoot::new();
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.nvr_config_path()).unwrap()).unwrap();
    value.apply_merge().unwrap();
    let json_path = root.path().join("config/config.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let empty = root.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();

    let out = check_config(&empty, &[("CONFIG_FILE", &json_path)]);
    assert_parsed(&out);
    let text = stdout(&out);
    let mut names: Vec<&str> = field(&text, "cameras (3)").split(", ").collect();
    names.sort();
    assert_eq!(names, ["back", "front", "front_door-yard"], "{text}");
    assert_eq!(
        field(&text, "database"),
        root.db_path().display().to_string()
    );
}

// ---- replayd.toml errors ----

#[test]
fn an_unknown_key_is_refused_with_file_line_and_key() {
    let root = TestRoot::builder()
        .toml(|t| {
            t.extra
                .push(("session".into(), "max_durration".into(), "\"1h\"".into()))
        })
        .build();
    let toml = root.toml_path();
    let line = line_of(&toml, "max_durration");
    let out = check_config(&toml, &[]);
    expect_config_error(
        &out,
        &[
            &toml.display().to_string(),
            &format!(":{line}"),
            "session.max_durration",
        ],
    );

    // The daemon itself, as systemd runs it, refuses to start the same way:
    // exit 78, no READY=1, no socket.
    let mut daemon = Daemon::launch(&root, SpawnOptions::default());
    let status = daemon.wait_exit(secs(5));
    assert_eq!(status.code(), Some(EX_CONFIG), "{}", daemon.log_report());
    assert!(!daemon.has_notification("READY=1"));
    assert!(daemon.log().contains("session.max_durration"));
    assert!(!root.socket().exists());
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    // (section, key, raw TOML value, the dotted key the message must name)
    let cases = [
        (
            "session",
            "max_duration",
            "\"12 parsecs\"",
            "session.max_duration",
        ),
        ("session", "max_range", "\"6\"", "session.max_range"),
        ("session", "max_range", "6", "session.max_range"),
        ("session", "max_duration", "\"-5m\"", "session.max_duration"),
        ("ffmpeg", "stall_timeout", "\"0s\"", "ffmpeg.stall_timeout"),
        ("ffmpeg", "kill_grace", "\"soon\"", "ffmpeg.kill_grace"),
        ("control", "socket_mode", "\"0999\"", "control.socket_mode"),
        ("log", "level", "\"loud\"", "log.level"),
        ("log", "target", "\"carrier-pigeon\"", "log.target"),
        ("nvr", "media_dir", "42", "nvr.media_dir"),
        ("nvr", "colour", "\"red\"", "nvr.colour"),
    ];
    let mut root = TestRoot::new();
    let toml = root.toml_path();
    for (section, key, value, dotted) in cases {
        root.update_toml(|t| {
            // Keys the harness sets itself would fail as duplicates instead.
            match (section, key) {
                ("log", "level") => t.log_level = None,
                ("log", "target") => t.log_target = None,
                ("nvr", "media_dir") => t.media_dir = None,
                _ => {}
            }
            t.extra
                .retain(|(s, _, _)| s == "nvr.mounts" || s == "runtime");
            t.extra.push((section.into(), key.into(), value.into()));
        });
        let needle = format!("{key} = {value}");
        let line = line_of(&toml, &needle);
        let out = check_config(&toml, &[]);
        let err = expect_config_error(&out, &[&toml.display().to_string(), dotted]);
        assert!(
            err.contains(&format!(":{line}")),
            "{dotted} = {value}: line {line} not named: {err}"
        );
        assert!(!err.contains("duplicate"), "{err}");
    }

    // An unknown section.
    root.update_toml(|t| {
        t.extra
            .retain(|(s, _, _)| s == "nvr.mounts" || s == "runtime");
        t.extra
            .push(("sesion".into(), "max_range".into(), "\"1h\"".into()))
    });
    let line = line_of(&toml, "[sesion]");
    let out = check_config(&toml, &[]);
    let err = expect_config_error(&out, &[&toml.display().to_string(), "sesion"]);
    assert!(
        err.contains(&format!(":{line}")) || err.contains(&format!(":{}", line + 1)),
        "line of [sesion] not named: {err}"
    );
}

#[test]
fn bad_toml_syntax_names_file_and_line() {
    let root = TestRoot::new();
    let toml = root.toml_path();
    for (text, line) in [
        ("# replayd\n\n[session\nmax_range = \"1h\"\n", 3),
        ("[session]\nmax_range = \"1h\"\nmax_duration = \"2h\n", 3),
        ("[log]\nlevel = \"info\"\nlevel = \"debug\"\n", 3),
        ("[nvr]\nmedia_dir = /media\n", 2),
    ] {
        root.write_raw_toml(text);
        let out = check_config(&toml, &[]);
        expect_config_error(&out, &[&format!("{}:{line}", toml.display())]);
    }
    // Not UTF-8.
    std::fs::write(&toml, b"[log]\nlevel = \"\xff\"\n").unwrap();
    let out = check_config(&toml, &[]);
    expect_config_error(&out, &[&toml.display().to_string()]);
}

#[test]
fn a_missing_config_file_is_an_error_when_named() {
    let root = TestRoot::new();
    let missing = root.path().join("nope/replayd.toml");
    let out = check_config(&missing, &[]);
    expect_config_error(&out, &[&missing.display().to_string()]);
    // Also when not checking: the daemon does not start on built-in defaults.
    let out = replayd(&["--config".as_ref(), missing.as_os_str()], &[]);
    expect_config_error(&out, &[&missing.display().to_string()]);
}

// ---- NVR config errors ----

#[test]
fn nvr_config_errors_name_the_nvr_config() {
    let root = TestRoot::new();
    let toml = root.toml_path();
    let nvr = root.nvr_config_path();
    let nvr_name = nvr.display().to_string();

    // Invalid YAML.
    root.write_nvr_config("cameras:\n  front:\n    detect: [1, 2\n  back: {}\n");
    let out = check_config(&toml, &[]);
    expect_config_error(&out, &[&nvr_name, "line"]);

    // Duplicate keys: YAML says keys are unique; a silent "last one wins"
    // would replay a camera the operator did not mean.
    root.write_nvr_config(&format!(
        "{}\n  front:\n    ffmpeg:\n      inputs:\n        - path: rtsp://x/y\n          roles: [detect]\n",
        common::root::NVR_CONFIG
    ));
    let dup_line = 1 + common::root::NVR_CONFIG.lines().count() + 1;
    let out = check_config(&toml, &[]);
    expect_config_error(
        &out,
        &[&nvr_name, "duplicate", "front", &format!("line {dup_line}")],
    );

    // A top level that is not a mapping; an empty file.
    for text in ["- front\n- back\n", ""] {
        root.write_nvr_config(text);
        let out = check_config(&toml, &[]);
        expect_config_error(&out, &[&nvr_name]);
    }

    // Missing: named by replayd.toml, and by $CONFIG_FILE.
    std::fs::remove_file(&nvr).unwrap();
    let out = check_config(&toml, &[]);
    expect_config_error(&out, &[&nvr_name]);
    let empty = root.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let elsewhere = root.path().join("config/elsewhere.yml");
    let out = check_config(&empty, &[("CONFIG_FILE", &elsewhere)]);
    expect_config_error(&out, &[&elsewhere.display().to_string()]);

    // The daemon refuses to start on it too.
    let mut daemon = Daemon::launch(&root, SpawnOptions::default());
    let status = daemon.wait_exit(secs(5));
    assert_eq!(status.code(), Some(EX_CONFIG), "{}", daemon.log_report());
    assert!(daemon.log().contains(&nvr_name), "{}", daemon.log_report());
    assert!(!daemon.has_notification("READY=1"));
}

// ---- command line ----

#[test]
fn version_help_and_usage_errors() {
    let out = replayd(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        format!("replayd {}", env!("CARGO_PKG_VERSION"))
    );

    let out = replayd(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    for flag in ["--config", "--check-config", "--version"] {
        assert!(stdout(&out).contains(flag), "--help lacks {flag}");
    }

    for args in [
        &["--frobnicate"][..],
        &["--config"],
        &["start"],
        &["--check-config=yes"],
    ] {
        let out = replayd(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}: no usage message");
    }
}

#[test]
fn check_config_checks_what_a_start_needs_naming_the_key() {
    let mut root = TestRoot::new();
    let out = check_config(&root.toml_path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("database: "), "{text}");
    assert!(text.contains("session.replay_dir: "), "{text}");
    assert!(text.contains("publisher: file"), "{text}");

    // A database that is not there, a media root that is not there.
    root.update_toml(|t| {
        t.database = Some(root_missing("frigate.db"));
        t.media_dir = Some(root_missing("media"));
    });
    let out = check_config(&root.toml_path(), &[]);
    assert_eq!(out.status.code(), Some(78), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("check failed: nvr.database: "), "{err}");
    assert!(err.contains("check failed: nvr.media_dir: "), "{err}");
    // Nothing was created on the way.
    assert!(!root_missing("media").exists());

    // A Frigate publisher whose Frigate does not answer.
    root.update_toml(|t| {
        t.database = None;
        t.media_dir = Some(
            t.nvr_config
                .clone()
                .unwrap()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("media"),
        );
        t.extra
            .push(("publish".into(), "to".into(), "\"frigate\"".into()));
        t.extra.push((
            "publish.frigate".into(),
            "url".into(),
            "\"http://127.0.0.1:9\"".into(),
        ));
        t.extra
            .push(("publish.frigate".into(), "timeout".into(), "\"1s\"".into()));
    });
    let out = check_config(&root.toml_path(), &[]);
    assert_eq!(out.status.code(), Some(78), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("check failed: publish.frigate.url: Frigate does not answer"),
        "{err}"
    );
}

fn root_missing(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("replayd-missing-{}-{name}", std::process::id()))
}
