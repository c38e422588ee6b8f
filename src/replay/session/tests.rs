use super::*;

fn session() -> Session {
    Session {
        replay_camera: "_replay_front".into(),
        source_camera: "front".into(),
        source: ClipSource::Recordings,
        start_time: 100.0,
        end_time: 160.0,
        started_at: 1000.0,
        auto_stop_at: 1000.0 + 43_200.0,
        deadline: 50.0,
        clip_path: None,
        published: false,
        job_id: "j1".into(),
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
fn view_is_active_with_clip_unset() {
    let v = session().view(SessionState::PreparingClip);
    assert!(v.active);
    assert_eq!(v.state, SessionState::PreparingClip);
    assert_eq!(v.clip_path, None);
    assert_eq!(v.replay_camera.as_deref(), Some("_replay_front"));
}

#[test]
fn job_state_reports_step_and_progress() {
    let job = job_state(
        &session(),
        SessionState::PreparingClip,
        JobStatus::Running,
        42.26,
        1000.0,
        None,
        None,
    );
    assert_eq!(job.results.current_step.as_deref(), Some("preparing_clip"));
    assert_eq!(job.results.progress_percent, Some(42.3));
    assert_eq!(job.results.start_ts, Some(100.0));
    let done = job_state(
        &session(),
        SessionState::StartingCamera,
        JobStatus::Success,
        100.0,
        1.0,
        Some(2.0),
        None,
    );
    assert_eq!(done.results.current_step.as_deref(), Some("ready"));
}

#[test]
fn stopped_job_is_cancelled_with_names_only() {
    let job = stopped_job("front", "_replay_front", 5.0);
    assert_eq!(job.id, "stopped");
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.results.progress_percent, None);
}

#[test]
fn throttle_once_a_second_plus_step_changes() {
    let mut t = ProgressThrottle::default();
    assert!(t.should_emit(0.0, SessionState::PreparingClip));
    assert!(!t.should_emit(0.5, SessionState::PreparingClip));
    assert!(t.should_emit(1.0, SessionState::PreparingClip));
    assert!(t.should_emit(1.1, SessionState::StartingCamera));
    assert!(!t.should_emit(1.2, SessionState::StartingCamera));
}

#[test]
fn times_read_as_utc_with_milliseconds_only_when_there_are_some() {
    assert_eq!(format_utc(1_700_000_000.0), "2023-11-14 22:13:20 UTC");
    assert_eq!(
        format_utc_precise(1_700_000_000.25),
        "2023-11-14 22:13:20.250 UTC"
    );
    assert_eq!(
        format_utc_precise(1_700_000_000.0),
        "2023-11-14 22:13:20 UTC"
    );
    assert_eq!(
        describe_range(0.0, 60.0),
        "1970-01-01 00:00:00 UTC .. 1970-01-01 00:01:00 UTC"
    );
}

#[test]
fn session_json_keeps_its_version_1_shape() {
    let saved = PersistedSession {
        state: SessionState::Ready,
        stopping: true,
        session: session(),
    };
    let value = serde_json::to_value(&saved).unwrap();
    assert_eq!(value["state"], "ready");
    assert_eq!(value["stopping"], true);
    assert_eq!(value["replay_camera"], "_replay_front");
    let back: PersistedSession = serde_json::from_value(value).unwrap();
    assert_eq!(back, saved);
}

#[test]
fn session_round_trips_through_json() {
    let mut s = session();
    s.source = ClipSource::Export {
        export_id: "e1".into(),
        video_path: "/media/frigate/exports/e1.mp4".into(),
    };
    s.ffmpeg = Some(ChildRecord {
        pid: 42,
        start_ticks: 7,
    });
    let text = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Session>(&text).unwrap(), s);
}

#[test]
fn a_session_json_from_before_link_mode_reads_as_copy() {
    let mut json = serde_json::to_value(PersistedSession {
        state: SessionState::Ready,
        stopping: false,
        session: session(),
    })
    .unwrap();
    for key in [
        "clip_mode",
        "clip_mode_reason",
        "link_forced",
        "linked_bytes",
    ] {
        assert!(json.as_object_mut().unwrap().remove(key).is_some(), "{key}");
    }
    let saved: PersistedSession = serde_json::from_value(json).unwrap();
    assert_eq!(saved.session.clip_mode, Mode::Copy);
    assert_eq!(saved.session.linked_bytes, None);
    assert_eq!(saved.validate("_replay_"), Ok(()));
}

#[test]
fn the_view_shows_the_clip_mode_its_reason_and_the_linked_bytes() {
    let mut s = session();
    s.clip_mode = Mode::Link;
    s.linked_bytes = Some(4096);
    let v = s.view(SessionState::Ready);
    assert_eq!(v.clip_mode.as_deref(), Some("link"));
    assert_eq!(v.linked_bytes, Some(4096));
    assert_eq!(v.clip_mode_reason, None);
    let mut s = session();
    s.clip_mode_reason = Some("cross-device: x".into());
    let v = s.view(SessionState::Ready);
    assert_eq!(v.clip_mode.as_deref(), Some("copy"));
    assert_eq!(v.clip_mode_reason.as_deref(), Some("cross-device: x"));
}

#[test]
fn validate_refuses_link_fields_that_do_not_fit() {
    let check = |s: Session| {
        PersistedSession {
            state: SessionState::Ready,
            stopping: false,
            session: s,
        }
        .validate("_replay_")
    };
    let mut s = session();
    s.linked_bytes = Some(1);
    assert!(check(s).is_err(), "linked bytes in copy mode");
    let mut s = session();
    s.clip_mode_reason = Some("x".repeat(10_000));
    assert!(check(s).is_err());
    let mut s = session();
    s.clip_mode = Mode::Link;
    s.linked_bytes = Some(1);
    assert_eq!(check(s), Ok(()));
}
