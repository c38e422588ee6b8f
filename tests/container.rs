//! replayd under a real systemd: tests/systemd/container.sh boots Debian's
//! systemd in a systemd-nspawn container, installs the package and drives the
//! daemon with systemctl, journalctl and replayctl (66 checks). It needs root
//! and the Debian mirror of the host's apt sources; the first run builds the
//! container's root file system (~1.5 min), later runs reuse it (~20 s).

use std::path::Path;
use std::process::Command;

#[test]
fn replayd_runs_under_a_real_systemd() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the systemd container test needs root (CI runs as root)"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systemd/container.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run tests/systemd/container.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains("SUMMARY:"))
        .unwrap_or("no SUMMARY line");
    println!("{summary}");
    assert!(
        out.status.success() && summary.contains(" 0 failed"),
        "container test failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
