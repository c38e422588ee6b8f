//! README's demo command (`bash tests/demo.sh`) end to end, so that it stays
//! true: it builds the release binaries, generates its NVR tree, runs one
//! session (start at speed 2 with an override, a live update, diff, stop)
//! and checks what it published and that nothing is left.

use std::process::Command;

#[test]
fn the_readme_demo_runs_a_session_and_cleans_up() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .arg(format!("{repo}/tests/demo.sh"))
        .current_dir(repo)
        // The demo builds into the repository's own target dir, as a user's
        // run of it does.
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run bash tests/demo.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("demo OK"),
        "demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // What it printed on the way, for the test log.
    if let Some(line) = stdout.lines().find(|l| l.contains("demo OK")) {
        println!("{line}");
    }
}
