//! The files systemd and dpkg read are API too: the units pass
//! `systemd-analyze verify` silently and score at most 0.9 in
//! `systemd-analyze security`; they agree with the daemon's constants; the
//! shipped replayd.toml is the built-in defaults; the Debian package builds
//! and lintian finds no error in it.
//!
//! Needs systemd (systemd-analyze), man-db (verify looks up every
//! Documentation= man page), procps (/bin/kill of ExecReload=), dpkg-dev,
//! binutils and lintian. A missing tool fails the test with its package
//! name: none of this is skipped.
//!
//! The real-systemd test (boot, socket activation, crash, reload) is
//! tests/systemd/container.sh; it needs root and a minute, so it is not here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use replayd::config::{self, Environment};
use replayd::daemon::EXIT_CONFIG;

const MAX_EXPOSURE: f64 = 0.9;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("replayd-units-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a tool; a missing tool is a failure that names the package to install.
fn run(cmd: &mut Command, package: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{program} not found: install the Debian package '{package}' \
             (tests/units.rs needs it; see tests/setup.sh)"
        ),
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{program} not found in PATH: install the Debian package '{package}' \
         (tests/units.rs needs it; see tests/setup.sh)"
    );
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The units in a temp dir with ExecStart= pointing at the binary cargo
/// built (verify checks that it exists), and the man pages laid out for
/// MANPATH (verify runs `man` for every Documentation= entry).
struct Staged {
    dir: TempDir,
    manpath: PathBuf,
}

fn stage_units() -> Staged {
    let dir = TempDir::new("verify");
    let service = read("systemd/replayd.service");
    let exec = "ExecStart=/usr/bin/replayd\n";
    assert!(service.contains(exec), "replayd.service must run {exec}");
    let service = service.replace(
        exec,
        &format!("ExecStart={}\n", env!("CARGO_BIN_EXE_replayd")),
    );
    fs::write(dir.0.join("replayd.service"), service).unwrap();
    fs::write(dir.0.join("replayd.socket"), read("systemd/replayd.socket")).unwrap();
    let manpath = dir.0.join("man");
    for (page, section) in [("replayd.8", 8), ("replayctl.1", 1), ("replayd.toml.5", 5)] {
        let sub = manpath.join(format!("man{section}"));
        fs::create_dir_all(&sub).unwrap();
        fs::copy(repo().join("packaging/man").join(page), sub.join(page)).unwrap();
    }
    Staged { dir, manpath }
}

fn analyze(staged: &Staged, args: &[&str]) -> Output {
    let mut cmd = Command::new("systemd-analyze");
    cmd.args(args)
        .current_dir(&staged.dir.0)
        .env("MANPATH", &staged.manpath)
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .env_remove("SYSTEMD_UNIT_PATH");
    run(&mut cmd, "systemd")
}

#[test]
fn units_pass_systemd_analyze_verify_silently() {
    require("man", "man-db");
    require("kill", "procps");
    let staged = stage_units();
    let out = analyze(
        &staged,
        &["verify", "./replayd.socket", "./replayd.service"],
    );
    let printed = text(&out);
    assert!(
        out.status.success() && printed.trim().is_empty(),
        "systemd-analyze verify ({}) printed:\n{printed}",
        out.status
    );
}

/// The number in "→ Overall exposure level for replayd.service: 0.5 SAFE 😀".
fn exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level for"))?;
    let after = line.rsplit_once(": ")?.1;
    after.split_whitespace().next()?.parse().ok()
}

#[test]
fn exposure_parser() {
    let report = "✗ UMask= ... 0.1\n\n→ Overall exposure level for replayd.service: 0.5 SAFE 😀\n";
    assert_eq!(exposure(report), Some(0.5));
    assert_eq!(
        exposure("→ Overall exposure level for x.service: 9.6 UNSAFE 😨"),
        Some(9.6)
    );
    assert_eq!(exposure("nothing"), None);
}

#[test]
fn service_exposure_is_at_most_0_9() {
    let staged = stage_units();
    let out = analyze(
        &staged,
        &[
            "security",
            "--offline=true",
            "--no-pager",
            "./replayd.service",
        ],
    );
    let report = text(&out);
    let score = exposure(&report).unwrap_or_else(|| {
        panic!("no exposure level in systemd-analyze security's output:\n{report}")
    });
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}; what is still open:\n{}",
        report
            .lines()
            .filter(|l| l.starts_with('✗'))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `Key=value` lines of a unit file, in order (comments and sections skipped).
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn setting(unit: &str, key: &str) -> Vec<String> {
    settings(unit)
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

/// "30s", "1min 30s", "2min": what this unit file uses.
fn systemd_timespan(value: &str) -> Duration {
    let mut total = Duration::ZERO;
    for part in value.split_whitespace() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits
            .parse()
            .unwrap_or_else(|_| panic!("bad timespan {value:?}"));
        total += match &part[digits.len()..] {
            "" | "s" | "sec" => Duration::from_secs(n),
            "ms" | "msec" => Duration::from_millis(n),
            "m" | "min" => Duration::from_secs(60 * n),
            "h" | "hr" => Duration::from_secs(3600 * n),
            other => panic!("unit {other:?} in {value:?}"),
        };
    }
    total
}

#[test]
fn service_agrees_with_the_daemon() {
    let service = read("systemd/replayd.service");
    let socket = read("systemd/replayd.socket");
    let defaults = config::defaults(&Environment::default());

    let one = |unit: &str, key: &str| -> String {
        let values = setting(unit, key);
        assert_eq!(
            values.len(),
            1,
            "{key}= must be set exactly once: {values:?}"
        );
        values[0].clone()
    };
    assert_eq!(one(&service, "Type"), "notify");
    assert_eq!(one(&service, "NotifyAccess"), "main");
    assert_eq!(one(&service, "KillMode"), "mixed");
    // Configuration errors are not retried.
    assert_eq!(
        one(&service, "RestartPreventExitStatus"),
        EXIT_CONFIG.to_string()
    );
    // The daemon stops ffmpeg itself: systemd must give it more than kill_grace.
    let stop = systemd_timespan(&one(&service, "TimeoutStopSec"));
    assert!(
        stop >= defaults.ffmpeg.kill_grace * 5,
        "TimeoutStopSec={stop:?} leaves too little room over ffmpeg.kill_grace {:?}",
        defaults.ffmpeg.kill_grace
    );
    // The socket unit owns the path replayctl and the daemon's defaults use.
    assert_eq!(
        Path::new(&one(&socket, "ListenStream")),
        defaults.control.socket.as_path()
    );
    assert_eq!(
        one(&socket, "SocketMode"),
        format!("0{:o}", defaults.control.socket_mode)
    );
    assert_eq!(one(&socket, "SocketGroup"), defaults.control.admin_group);
    assert_eq!(
        one(&service, "Group"),
        defaults.control.admin_group,
        "the service's group is the admin group"
    );
    // The runtime dir must not contain the socket: systemd deletes it at stop.
    let runtime = Path::new("/run").join(one(&service, "RuntimeDirectory"));
    assert!(
        !defaults.control.socket.starts_with(&runtime),
        "RuntimeDirectory {} would delete the socket unit's {}",
        runtime.display(),
        defaults.control.socket.display()
    );
    assert_eq!(one(&service, "RuntimeDirectoryPreserve"), "restart");
}

/// "every hardening grant commented": each line that opens something up
/// has a comment right above it (or above its group).
#[test]
fn every_grant_in_the_service_is_commented() {
    let service = read("systemd/replayd.service");
    let lines: Vec<&str> = service.lines().collect();
    let grants = [
        "ReadWritePaths=",
        "User=",
        "RestartPreventExitStatus=",
        "KillMode=",
        "SystemCallFilter=@",
        "RestrictAddressFamilies=",
        "UMask=",
        "ProtectProc=",
        "ProcSubset=",
        "MemoryDenyWriteExecute=",
        "RuntimeDirectory=",
    ];
    for (i, line) in lines.iter().enumerate() {
        if !grants.iter().any(|g| line.starts_with(g)) {
            continue;
        }
        // Walk up over the grant's siblings (settings of the same group).
        let commented = lines[..i]
            .iter()
            .rev()
            .take_while(|l| !l.trim().is_empty())
            .any(|l| l.starts_with('#'));
        assert!(
            commented,
            "line {} '{line}' has no comment explaining it",
            i + 1
        );
    }
}

/// The shipped replayd.toml changes nothing, and uncommenting every key
/// also changes nothing: its values are the built-in defaults.
#[test]
fn shipped_config_is_the_defaults() {
    let env = Environment::default();
    let defaults = config::defaults(&env);
    let file = Path::new("/etc/replayd/replayd.toml");
    let shipped = read("packaging/replayd.toml");
    let parsed = config::parse(&shipped, file, &env).expect("shipped replayd.toml parses");
    assert_eq!(parsed, defaults);

    let mut keys = 0;
    let uncommented: String = shipped
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => {
                keys += 1;
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(keys, 27, "every key of SPEC §1 is listed:\n{uncommented}");
    let parsed = config::parse(&uncommented, file, &env)
        .unwrap_or_else(|e| panic!("uncommented replayd.toml: {e}\n{uncommented}"));
    // nvr.config and nvr.database are discovered when unset ($CONFIG_FILE,
    // database.path): the file shows the paths discovery falls back to.
    let mut expected = defaults;
    expected.nvr.config = Some(PathBuf::from("/config/config.yml"));
    expected.nvr.database = Some(PathBuf::from("/config/frigate.db"));
    assert_eq!(
        parsed, expected,
        "a commented value differs from the built-in default"
    );
}

#[test]
fn man_pages_format_without_warnings() {
    for page in ["replayd.8", "replayctl.1", "replayd.toml.5"] {
        let path = repo().join("packaging/man").join(page);
        let mut cmd = Command::new("man");
        cmd.args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8");
        let out = run(&mut cmd, "man-db");
        assert!(out.status.success(), "man {page}: {}", out.status);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.trim().is_empty(), "man {page} warns:\n{warnings}");
    }
}

/// Builds the .deb from the binaries of this test run (no release build) and
/// runs lintian on it: no errors, and the files where Debian expects them.
#[test]
fn debian_package_builds_and_lintian_finds_no_error() {
    for (program, package) in [
        ("dpkg-deb", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("strip", "binutils"),
        ("lintian", "lintian"),
    ] {
        require(program, package);
    }
    let out_dir = TempDir::new("deb");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_replayd"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("packaging/build-deb.sh"))
        .env("BIN_DIR", &bin_dir)
        .env("OUT_DIR", &out_dir.0);
    let out = run(&mut cmd, "bash");
    assert!(out.status.success(), "build-deb.sh failed:\n{}", text(&out));
    let deb = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("build-deb.sh prints the .deb")
        .to_string();

    let out = run(Command::new("dpkg-deb").args(["-c", &deb]), "dpkg");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    for path in [
        "./usr/bin/replayd",
        "./usr/bin/replayctl",
        "./lib/systemd/system/replayd.service",
        "./lib/systemd/system/replayd.socket",
        "./usr/lib/sysusers.d/replayd.conf",
        "./usr/lib/tmpfiles.d/replayd.conf",
        "./etc/replayd/replayd.toml",
        "./usr/share/man/man8/replayd.8.gz",
        "./usr/share/man/man1/replayctl.1.gz",
        "./usr/share/man/man5/replayd.toml.5.gz",
        "./usr/share/bash-completion/completions/replayctl",
        "./usr/share/zsh/vendor-completions/_replayctl",
        "./usr/share/fish/vendor_completions.d/replayctl.fish",
        "./usr/share/doc/replayd/copyright",
        "./usr/share/doc/replayd/changelog.Debian.gz",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} missing from the package:\n{listing}"
        );
    }
    assert!(
        listing.lines().all(|l| l.contains(" root/root ")),
        "files must belong to root:\n{listing}"
    );
    let out = run(
        Command::new("dpkg-deb").args(["-f", &deb, "Depends"]),
        "dpkg",
    );
    let depends = String::from_utf8_lossy(&out.stdout).into_owned();
    for dep in ["libsqlite3-0", "ffmpeg", "procps", "systemd"] {
        assert!(depends.contains(dep), "Depends lacks {dep}: {depends}");
    }
    let out = run(
        Command::new("dpkg-deb").args(["-I", &deb, "conffiles"]),
        "dpkg",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/etc/replayd/replayd.toml"
    );

    let out = run(
        Command::new("lintian").args(["--fail-on", "error", "--tag-display-limit", "0", &deb]),
        "lintian",
    );
    let report = text(&out);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(
        out.status.success() && errors.is_empty(),
        "lintian ({}):\n{report}",
        out.status
    );
    // Warnings are allowed but shown (cargo test --test units -- --nocapture).
    println!("lintian on {deb}:\n{report}");
}
