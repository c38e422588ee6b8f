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
