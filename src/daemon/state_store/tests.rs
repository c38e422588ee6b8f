use super::*;
use crate::protocol::SessionState;
use crate::replay::session::ClipSource;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replayd-state-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn session() -> PersistedSession {
    PersistedSession {
        state: SessionState::Ready,
        stopping: false,
        session: session_data(),
    }
}

fn session_data() -> crate::replay::session::Session {
    crate::replay::session::Session {
        replay_camera: "_replay_front".into(),
        source_camera: "front".into(),
        source: ClipSource::Recordings,
        start_time: 1.0,
        end_time: 2.0,
        started_at: 3.0,
        auto_stop_at: 4.0,
        deadline: 5.0,
        clip_path: Some("/m/clips/replay/_replay_front.mp4".into()),
        published: true,
        job_id: "j".into(),
        interruptions: 0,
        ffmpeg: None,
        detect_size: None,
        warnings: Vec::new(),
        speed: 1.0,
        overrides: None,
        clip_mode: Default::default(),
        clip_mode_reason: None,
        link_forced: false,
        linked_bytes: None,
    }
}

#[test]
fn round_trip_and_boot_id() {
    let dir = temp_dir("rt");
    let store = StateStore::new(&dir);
    assert_eq!(store.load(), Loaded::Missing);
    store.save(Some(&session())).unwrap();
    assert_eq!(store.load(), Loaded::Current(Some(Box::new(session()))));
    store.save(None).unwrap();
    assert_eq!(store.load(), Loaded::Current(None));
    let other = StateStore {
        path: store.path.clone(),
        boot_id: "another-boot".into(),
    };
    assert_eq!(other.load(), Loaded::OtherBoot);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corrupt_file_is_set_aside() {
    let dir = temp_dir("corrupt");
    let store = StateStore::new(&dir);
    fs::write(store.path(), b"{\"schema\":1,").unwrap();
    assert!(matches!(store.load(), Loaded::Corrupt(_)));
    assert!(dir.join("session.json.corrupt").exists());
    assert!(!store.path().exists());
    fs::write(
        store.path(),
        b"{\"schema\":99,\"boot_id\":\"x\",\"session\":null}",
    )
    .unwrap();
    assert!(matches!(store.load(), Loaded::Corrupt(m) if m.contains("99")));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tampered_session_is_set_aside_not_trusted() {
    // Issue 10 finding 10: `replay_camera: "../../x"` made resume write and
    // stop delete outside the runtime and media dirs.
    type Tamper = fn(&mut PersistedSession);
    let cases: [(&str, Tamper); 6] = [
        ("path in the name", |s| {
            s.session.replay_camera = "../../x".into()
        }),
        ("name not prefix + source", |s| {
            s.session.replay_camera = "_replay_other".into()
        }),
        ("bad source", |s| s.session.source_camera = "a/b".into()),
        ("infinite time", |s| s.session.deadline = f64::INFINITY),
        ("export path with ..", |s| {
            s.session.source = ClipSource::Export {
                export_id: "e".into(),
                video_path: "/media/../etc/shadow".into(),
            }
        }),
        ("job id with a newline", |s| {
            s.session.job_id = "1\nREADY=1".into()
        }),
    ];
    for (what, tamper) in cases {
        let dir = temp_dir("tamper");
        let store = StateStore::new(&dir);
        let mut saved = session();
        tamper(&mut saved);
        store.save(Some(&saved)).unwrap();
        assert!(
            matches!(store.load(), Loaded::Corrupt(_)),
            "{what}: accepted"
        );
        assert!(dir.join("session.json.corrupt").exists(), "{what}");
    }
}

#[test]
fn a_planted_temp_file_symlink_is_not_written_through() {
    let dir = temp_dir("planted");
    let target = dir.join("victim");
    fs::write(&target, b"precious").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("session.json.tmp")).unwrap();
    let store = StateStore::new(&dir);
    store.save(Some(&session())).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"precious");
    assert_eq!(store.load(), Loaded::Current(Some(Box::new(session()))));
}
