//! First integration tests: the harness's fixture tree, and the daemon's
//! basic life cycle (READY, ping, status, SIGTERM).

mod common;

use common::*;
use replayd::protocol::PROTOCOL_VERSION;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn fixture_tree_matches_database() {
    let root = TestRoot::builder().segments(12).build();
    let segments = root.segments();
    assert_eq!(segments.len(), 12);

    // The files: real 2 s H.264 segments at 320x240, contiguous in time.
    for (i, s) in segments.iter().enumerate() {
        assert!(s.path.starts_with(root.media().join("recordings/front")));
        assert_eq!(s.path.extension().unwrap(), "mp4");
        let p = probe(&s.path).unwrap_or_else(|| panic!("ffprobe {}", s.path.display()));
        assert_eq!((p.width, p.height, p.codec.as_str()), (320, 240, "h264"));
        assert!(
            (p.duration - 2.0).abs() < 0.05,
            "{}: {} s",
            s.path.display(),
            p.duration
        );
        assert_eq!(s.start, root.base_time() + 2.0 * i as f64);
        assert_eq!(s.end, s.start + 2.0);
    }
    // 1_700_000_000 is 2023-11-14 22:13:20 UTC.
    assert_eq!(
        segments[0].path,
        root.media()
            .join("recordings/front/2023-11-14/22/13.20.mp4")
    );
    assert_eq!(root.end_time(), root.base_time() + 24.0);

    // The rows: one per file, same path/times, size in MiB.
    let conn = root.db();
    let mut stmt = conn
        .prepare(
            "SELECT id, path, start_time, end_time, duration, segment_size \
             FROM recordings WHERE camera = 'front' ORDER BY start_time",
        )
        .unwrap();
    let rows: Vec<(String, String, f64, f64, f64, f64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), segments.len());
    for (row, s) in rows.iter().zip(&segments) {
        assert_eq!(row.0, s.id);
        assert!(row.0.starts_with(&format!("{:.1}-", s.start)));
        assert_eq!(PathBuf::from(&row.1), s.path);
        assert_eq!((row.2, row.3, row.4), (s.start, s.end, 2.0));
        let mib = s.path.metadata().unwrap().len() as f64 / 1_048_576.0;
        assert!((row.5 - mib).abs() <= 0.005 + f64::EPSILON, "{row:?}");
    }

    // The export row and its 6 s video.
    let export = root.export();
    let (camera, video, date): (String, String, f64) = conn
        .query_row(
            "SELECT camera, video_path, date FROM export WHERE id = ?1",
            [&export.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((camera.as_str(), date), ("front", export.date));
    assert_eq!(PathBuf::from(video), export.path);
    let d = probe_duration(&export.path).unwrap();
    assert!((d - 6.0).abs() < 0.05, "export is {d} s");

    // The NVR config names the three cameras and the database.
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.nvr_config_path()).unwrap()).unwrap();
    let cameras: BTreeSet<&str> = yaml["cameras"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        cameras,
        BTreeSet::from(["front", "front_door-yard", "back"])
    );
    assert_eq!(
        yaml["database"]["path"].as_str().map(PathBuf::from),
        Some(root.db_path())
    );

    // replayd.toml points at the tree.
    let toml: toml::Table = std::fs::read_to_string(root.toml_path())
        .unwrap()
        .parse()
        .unwrap();
    let s = |section: &str, key: &str| toml[section][key].as_str().unwrap().to_string();
    assert_eq!(PathBuf::from(s("nvr", "config")), root.nvr_config_path());
    assert_eq!(PathBuf::from(s("nvr", "database")), root.db_path());
    assert_eq!(PathBuf::from(s("nvr", "media_dir")), root.media());
    assert_eq!(PathBuf::from(s("runtime", "dir")), root.run_dir());
    assert_eq!(PathBuf::from(s("control", "socket")), root.socket());
    assert_eq!(s("log", "target"), "stderr");
    // sun_path holds 108 bytes.
    assert!(root.socket().as_os_str().len() < 100, "{:?}", root.socket());
}

#[test]
fn fault_fixtures_are_what_they_claim() {
    let root = TestRoot::builder().segments(6).build();
    root.fault_segment(1, Fault::Resolution);
    root.fault_segment(2, Fault::Truncated);
    root.fault_segment(3, Fault::Empty);
    root.fault_segment(4, Fault::Missing);
    let s = root.segments();

    let hires = probe(&s[1].path).unwrap();
    assert_eq!((hires.width, hires.height), (640, 480));
    assert!((hires.duration - 2.0).abs() < 0.05);

    // The truncated file still has its index, but not the frames it lists:
    // decoding it fails part-way.
    let full = std::fs::metadata(&s[0].path).unwrap().len();
    let cut = std::fs::metadata(&s[2].path).unwrap().len();
    assert!(cut > 0 && cut < full, "{cut} vs {full}");
    let decode = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&s[2].path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        !decode.stderr.is_empty(),
        "decoding a truncated segment reported no error"
    );

    assert_eq!(std::fs::metadata(&s[3].path).unwrap().len(), 0);
    assert!(!s[4].path.exists());
    // Rows stay for damaged files.
    assert_eq!(root.count_rows("front")["recordings"], 6);
}

#[test]
fn replay_artifacts_cover_the_cleanup_list() {
    let root = TestRoot::new();
    let a = root.add_replay_artifacts("_replay_front");
    let b = root.add_replay_artifacts("_replay_front-door");
    assert_eq!(a.remaining_rows(&root), a.rows);
    assert_eq!(b.remaining_rows(&root), b.rows);
    assert_eq!(a.total_rows(), 16);
    assert_eq!(a.remaining_paths().len(), a.files.len() + a.dirs.len());
    assert!(root.clip_path("_replay_front").is_file());

    // The name matcher tells the two cameras apart.
    let found_a = root.media_entries_for("_replay_front");
    let found_b = root.media_entries_for("_replay_front-door");
    assert!(found_a.iter().all(|p| !found_b.contains(p)));
    for p in a.files.iter().chain(&a.dirs) {
        let claimed = found_a.iter().any(|f| p.starts_with(f));
        assert!(claimed, "{} not matched for _replay_front", p.display());
    }
}

#[test]
fn daemon_starts_answers_and_stops() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    assert!(
        daemon.has_notification("READY=1"),
        "{:?}",
        daemon.notifications()
    );

    let mut client = Client::connect(root.socket());
    let pong = client.request(&json!({"cmd": "ping"}));
    assert_eq!(pong["ok"], true, "{pong}");
    assert_eq!(pong["protocol"], PROTOCOL_VERSION, "{pong}");
    assert!(pong["version"].is_string(), "{pong}");

    let status = client.request(&json!({"cmd": "status"}));
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(status["session"]["state"], "idle", "{status}");
    assert!(status["job"].is_null(), "{status}");

    // A few fds and a few MB are all an idle daemon needs.
    let (fds, rss) = (daemon.fd_count(), daemon.rss_kb());
    eprintln!("idle daemon: {fds} fds, {rss} KiB RSS");
    assert!(fds < 32, "{:?}", daemon.fds());
    assert!(rss < 32 * 1024, "{rss} KiB");

    daemon.sigterm();
    let exit = daemon.wait_exit(secs(10));
    assert_eq!(exit.code(), Some(0), "{exit}\n{}", daemon.log_report());
    assert!(
        daemon.has_notification("STOPPING=1"),
        "{:?}",
        daemon.notifications()
    );
    assert!(
        client.wait_closed(secs(5)),
        "connection still open after exit"
    );
}
