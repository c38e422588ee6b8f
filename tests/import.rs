//! start_from_file (SPEC §2): a video from the import dir replayed through
//! one camera's settings, and every way out of the import dir refused.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

fn import_dir(root: &TestRoot) -> PathBuf {
    root.media().join("replayd-import")
}

/// A root whose import dir holds `bug-1234/clip.mp4` (the export fixture,
/// 6 s) and a secret outside it that a symlink could lead to.
fn root_with_import() -> (TestRoot, PathBuf) {
    let root = TestRoot::new();
    let dir = import_dir(&root).join("bug-1234");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(fixtures::cache().export.as_path(), dir.join("clip.mp4")).unwrap();
    let secret = root.path().join("outside.mp4");
    fs::copy(fixtures::cache().segment(0), &secret).unwrap();
    (root, secret)
}

fn start_file(client: &mut Client, path: &str) -> serde_json::Value {
    client.request(&json!({"cmd":"start_from_file","camera":"front","path":path}))
}

#[test]
fn a_file_of_the_import_dir_is_replayed_over_its_own_timeline() {
    let (root, _) = root_with_import();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let started = client.request(&json!({
        "cmd": "start_from_file", "camera": "front", "path": "bug-1234/clip.mp4", "speed": 2
    }));
    assert_eq!(started["ok"], true, "{started}\n{}", daemon.log_report());
    assert_eq!(started["replay_camera"], "_replay_front");
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    let status = client.cmd("status");
    let session = &status["session"];
    assert_eq!(session["state"], "ready");
    assert_eq!(session["source"]["kind"], "file");
    assert_eq!(session["source"]["path"], "bug-1234/clip.mp4");
    assert_eq!(session["start_time"], 0.0);
    let end = session["end_time"].as_f64().unwrap();
    assert!(
        (end - fixtures::EXPORT_SECONDS).abs() < 0.5,
        "the range is the file's own duration: {end}"
    );
    assert_eq!(session["speed"], 2.0);
    // The original is never touched.
    assert!(import_dir(&root).join("bug-1234/clip.mp4").is_file());
    assert_eq!(client.cmd("stop")["ok"], true);
    assert!(import_dir(&root).join("bug-1234/clip.mp4").is_file());
    assert!(!root.replay_dir().join("_replay_front").exists());
}

#[test]
fn a_symlink_that_stays_inside_the_import_dir_is_followed() {
    let (root, _) = root_with_import();
    symlink("bug-1234/clip.mp4", import_dir(&root).join("latest.mp4")).unwrap();
    let daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut client = daemon.client();
    let started = start_file(&mut client, "latest.mp4");
    assert_eq!(started["ok"], true, "{started}");
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}\n{}", daemon.log_report());
    assert_eq!(client.cmd("stop")["ok"], true);
}

#[test]
fn every_way_out_of_the_import_dir_is_refused_and_nothing_is_written() {
    let (root, secret) = root_with_import();
    let dir = import_dir(&root);
    // A symlink straight out, one through a folder, and an absolute one.
    symlink(&secret, dir.join("escape.mp4")).unwrap();
    symlink(root.path(), dir.join("up")).unwrap();
    symlink("../../outside.mp4", dir.join("relative-escape.mp4")).unwrap();
    nix::unistd::mkfifo(&dir.join("fifo.mp4"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    fs::write(dir.join("empty.mp4"), b"").unwrap();
    fs::create_dir(dir.join("folder.mp4")).unwrap();
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    for (path, code, words) in [
        (
            "escape.mp4",
            "invalid_params",
            "leads out of the import dir",
        ),
        (
            "up/outside.mp4",
            "invalid_params",
            "leads out of the import dir",
        ),
        (
            "relative-escape.mp4",
            "invalid_params",
            "leads out of the import dir",
        ),
        (
            "../outside.mp4",
            "invalid_params",
            "plain path relative to the import dir",
        ),
        (
            "bug-1234/../../outside.mp4",
            "invalid_params",
            "plain path relative",
        ),
        (
            secret.to_str().unwrap(),
            "invalid_params",
            "plain path relative",
        ),
        ("", "invalid_params", "plain path relative"),
        (
            "missing.mp4",
            "not_found",
            "does not exist in the import dir",
        ),
        ("fifo.mp4", "invalid_params", "not a regular file"),
        ("folder.mp4", "invalid_params", "not a regular file"),
        ("empty.mp4", "invalid_params", "is empty"),
    ] {
        let reply = start_file(&mut client, path);
        assert_eq!(reply["ok"], false, "{path}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{path}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{path}: {message}");
        assert_eq!(client.cmd("status")["session"]["active"], false);
    }
    // An unknown camera is refused before the file is opened.
    let reply = client
        .request(&json!({"cmd":"start_from_file","camera":"nope","path":"bug-1234/clip.mp4"}));
    assert_eq!(reply["error"]["code"], "not_found", "{reply}");
    assert!(!root.replay_dir().join("_replay_front").exists());
    assert!(!root.camera_file("_replay_front").exists());
    assert!(
        !root.session_file().exists() || {
            let text = fs::read_to_string(root.session_file()).unwrap();
            !text.contains("_replay_front")
        }
    );
    // The daemon never wrote to or through the link.
    assert_eq!(
        fs::read(&secret).unwrap(),
        fs::read(fixtures::cache().segment(0)).unwrap()
    );
}

#[test]
fn the_daemon_makes_a_missing_import_dir_for_the_admin_group() {
    use std::os::unix::fs::PermissionsExt;
    let root = TestRoot::new();
    let dir = import_dir(&root);
    let _ = fs::remove_dir_all(&dir);
    let daemon = Daemon::spawn(&root);
    let mut client = daemon.client();
    assert_eq!(client.cmd("ping")["ok"], true);
    let meta = fs::metadata(&dir).expect("import dir made");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o2770);
}
