//! Speed, overrides, update, apply and the file source (SPEC §2), against
//! the machine alone.

use super::*;
use crate::protocol::{ApplyReply, BeforeAfter, StartOptions};
use serde_json::json;

const OTHER: ClientId = 8;

fn options(speed: Option<f64>, overrides: Option<serde_json::Value>) -> StartOptions {
    StartOptions {
        speed,
        overrides,
        clip_mode: None,
    }
}

fn start_with(m: &mut Lifecycle, options: StartOptions) -> Vec<Action> {
    m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 30.0,
            options,
        },
        at(1.0),
    )
}

fn replied(out: &[Action]) -> Option<&Reply> {
    out.iter().find_map(|a| match a {
        Action::Reply { reply, .. } => Some(reply),
        _ => None,
    })
}

fn persisted_overrides(out: &[Action]) -> Vec<Option<serde_json::Value>> {
    out.iter()
        .filter_map(|a| match a {
            Action::Persist(Some(record)) => Some(record.session.overrides.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_speed_out_of_range_or_overrides_of_another_section_are_refused_before_any_check() {
    for (options, want) in [
        (
            options(Some(0.1), None),
            "speed must be between 0.25 and 16",
        ),
        (
            options(Some(17.0), None),
            "speed must be between 0.25 and 16",
        ),
        (options(Some(f64::NAN), None), "speed must be between"),
        (
            options(None, Some(json!({"record": {"enabled": true}}))),
            "overrides.record: only the detection sections may be overridden",
        ),
        (
            options(None, Some(json!({"motion": 3}))),
            "overrides.motion: must be a mapping",
        ),
        (
            options(None, Some(json!([1]))),
            "overrides: must be a mapping",
        ),
    ] {
        let mut m = machine();
        let out = start_with(&mut m, options);
        let (code, message) = refusal(&out).expect("refused");
        assert_eq!(code, ErrorCode::InvalidParams);
        assert!(message.contains(want), "{message}");
        assert!(!out.iter().any(|a| matches!(a, Action::CheckStart { .. })));
        assert!(persisted(&out).is_empty());
    }
}

#[test]
fn speed_and_overrides_are_part_of_the_session_and_of_what_is_published() {
    let mut m = machine();
    let chosen = options(Some(4.0), Some(json!({"motion": {"threshold": 25}})));
    let out = start_with(&mut m, chosen.clone());
    assert!(matches!(out.as_slice(), [Action::CheckStart { options, .. }] if *options == chosen));
    let plan = StartPlan {
        end: BASE + 30.0,
        options: chosen,
        ..start_plan(3)
    };
    m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(plan),
        },
        at(1.0),
    );
    let out = checked(&mut m, at(1.0));
    let saved = persisted_overrides(&out);
    assert_eq!(saved[0], Some(json!({"motion": {"threshold": 25}})));
    let view = m.view();
    assert_eq!(view.speed, Some(4.0));
    assert_eq!(view.overrides, Some(json!({"motion": {"threshold": 25}})));
    // Through the clip to the publish: the tuning goes along.
    m.handle(Input::ClipStarted { record: None }, at(2.0));
    m.handle(Input::ChildExited(exit_ok()), at(3.0));
    let out = m.handle(Input::ClipMeasured { duration: 30.0 }, at(3.0));
    let tuning = out
        .iter()
        .find_map(|a| match a {
            Action::Publish { tuning, .. } => Some(tuning.clone()),
            _ => None,
        })
        .expect("published");
    assert_eq!(tuning.speed, 4.0);
    assert_eq!(tuning.overrides, Some(json!({"motion": {"threshold": 25}})));
}

#[test]
fn update_needs_a_ready_session() {
    let mut m = machine();
    let out = m.handle(
        Input::Update {
            client: ADMIN,
            overrides: Some(json!({"motion": {"threshold": 30}})),
            reset: Vec::new(),
        },
        at(1.0),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NotActive);

    let mut m = cutting(3);
    let out = m.handle(
        Input::Update {
            client: ADMIN,
            overrides: Some(json!({"motion": {"threshold": 30}})),
            reset: Vec::new(),
        },
        at(2.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::NotActive);
    assert!(message.contains("preparing_clip, not ready"), "{message}");
    assert!(!out.iter().any(|a| matches!(a, Action::PublishUpdate(_))));
}

#[test]
fn an_update_is_published_then_kept_and_persisted_before_the_reply() {
    let mut m = ready();
    let out = m.handle(
        Input::Update {
            client: ADMIN,
            overrides: Some(json!({"zones": {"yard": {"inertia": 5}}})),
            reset: Vec::new(),
        },
        at(10.0),
    );
    let Some(Action::PublishUpdate(UpdateRequest {
        source,
        replay,
        tuning,
        overrides,
        detect_size,
        ..
    })) = out.first()
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (source.as_str(), replay.as_str()),
        ("front", "_replay_front")
    );
    assert_eq!(*tuning, Tuning::default());
    assert_eq!(*detect_size, Some((1280, 720)));
    assert_eq!(*overrides, Some(json!({"zones": {"yard": {"inertia": 5}}})));
    // One change at a time.
    let out = m.handle(
        Input::Update {
            client: OTHER,
            overrides: Some(json!({"motion": {"threshold": 30}})),
            reset: Vec::new(),
        },
        at(10.1),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::AlreadyActive);
    let out = m.handle(
        Input::Apply {
            client: OTHER,
            sections: Vec::new(),
        },
        at(10.1),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::AlreadyActive);

    let now = json!({"zones": {"yard": {"inertia": 5}}});
    let out = m.handle(
        Input::UpdatePublished {
            client: ADMIN,
            result: Ok(UpdateDone {
                overrides: Some(now.clone()),
                changed: vec!["zones".into()],
            }),
        },
        at(10.2),
    );
    let persist = position(&out, |a| matches!(a, Action::Persist(_)));
    let reply = position(&out, |a| matches!(a, Action::Reply { .. }));
    assert!(persist < reply, "{out:?}");
    assert_eq!(persisted_overrides(&out), vec![Some(now.clone())]);
    assert_eq!(
        replied(&out),
        Some(&Reply::Updated(UpdateReply {
            overrides: now.clone(),
            changed: vec!["zones".into()],
        }))
    );
    assert_eq!(m.view().overrides, Some(now));
    // The next one is taken.
    let out = m.handle(
        Input::Update {
            client: OTHER,
            overrides: None,
            reset: vec!["*".into()],
        },
        at(11.0),
    );
    assert!(matches!(out.as_slice(), [Action::PublishUpdate(_)]));
}

#[test]
fn a_refused_update_changes_nothing() {
    let mut m = ready();
    m.handle(
        Input::Update {
            client: ADMIN,
            overrides: Some(json!({"motion": {"threshold": "high"}})),
            reset: Vec::new(),
        },
        at(10.0),
    );
    let out = m.handle(
        Input::UpdatePublished {
            client: ADMIN,
            result: Err(RequestError::InvalidParams(
                "overrides.motion.threshold: must be a number".into(),
            )),
        },
        at(10.1),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("overrides.motion.threshold"), "{message}");
    assert!(persisted(&out).is_empty());
    assert_eq!(m.view().overrides, None);
    // An update with nothing in it, or of another section, never reaches the shell.
    for (overrides, reset) in [
        (None, Vec::new()),
        (Some(json!({"ffmpeg": {"inputs": []}})), Vec::new()),
    ] {
        let out = m.handle(
            Input::Update {
                client: ADMIN,
                overrides,
                reset,
            },
            at(11.0),
        );
        assert_eq!(refusal(&out).unwrap().0, ErrorCode::InvalidParams);
    }
}

#[test]
fn an_update_that_returns_after_a_stop_is_answered_not_active() {
    let mut m = ready();
    m.handle(
        Input::Update {
            client: OTHER,
            overrides: Some(json!({"motion": {"threshold": 30}})),
            reset: Vec::new(),
        },
        at(10.0),
    );
    m.handle(Input::Stop { client: ADMIN }, at(10.1));
    let out = m.handle(
        Input::UpdatePublished {
            client: OTHER,
            result: Ok(UpdateDone {
                overrides: Some(json!({"motion": {"threshold": 30}})),
                changed: vec!["motion".into()],
            }),
        },
        at(10.2),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NotActive);
    assert!(persisted(&out).is_empty());
}

fn tuned() -> Lifecycle {
    let mut m = ready();
    m.handle(
        Input::Update {
            client: ADMIN,
            overrides: Some(json!({"motion": {"threshold": 30}})),
            reset: Vec::new(),
        },
        at(10.0),
    );
    m.handle(
        Input::UpdatePublished {
            client: ADMIN,
            result: Ok(UpdateDone {
                overrides: Some(json!({"motion": {"threshold": 30}})),
                changed: vec!["motion".into()],
            }),
        },
        at(10.1),
    );
    m
}

#[test]
fn apply_needs_overrides_and_known_sections() {
    let mut m = ready();
    let out = m.handle(
        Input::Apply {
            client: ADMIN,
            sections: Vec::new(),
        },
        at(10.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("has no overrides to apply"), "{message}");

    let mut m = tuned();
    let out = m.handle(
        Input::Apply {
            client: ADMIN,
            sections: vec!["record".into()],
        },
        at(11.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("'record' is not a section"), "{message}");
}

#[test]
fn apply_hands_the_overrides_to_the_publisher_and_passes_its_answer_on() {
    let mut m = tuned();
    let out = m.handle(
        Input::Apply {
            client: ADMIN,
            sections: vec!["motion".into()],
        },
        at(11.0),
    );
    assert_eq!(
        out,
        vec![Action::ApplyOverrides {
            client: ADMIN,
            source: "front".into(),
            overrides: json!({"motion": {"threshold": 30}}),
            sections: vec!["motion".into()],
        }]
    );
    let mut applied = ApplyReply::default();
    applied.applied.entry("motion".into()).or_default().insert(
        "threshold".into(),
        BeforeAfter {
            before: json!(20),
            after: json!(30),
        },
    );
    let out = m.handle(
        Input::Applied {
            client: ADMIN,
            result: Ok(applied.clone()),
        },
        at(11.2),
    );
    assert_eq!(replied(&out), Some(&Reply::Applied(applied)));
    // The session goes on, overrides and all.
    assert_eq!(m.view().state, SessionState::Ready);
    assert_eq!(
        m.view().overrides,
        Some(json!({"motion": {"threshold": 30}}))
    );
    // A refusal (the file publisher) is passed on as it came.
    m.handle(
        Input::Apply {
            client: ADMIN,
            sections: Vec::new(),
        },
        at(12.0),
    );
    let out = m.handle(
        Input::Applied {
            client: ADMIN,
            result: Err(RequestError::Unsupported("paste this: cameras: ...".into())),
        },
        at(12.1),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::Unsupported);
}

#[test]
fn the_stop_summary_keeps_the_overrides_used() {
    let mut m = tuned();
    m.handle(Input::Stop { client: ADMIN }, at(20.0));
    m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(20.1),
    );
    let out = m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(20.2),
    );
    let summary = m.last_summary().unwrap();
    assert_eq!(
        summary.overrides,
        Some(json!({"motion": {"threshold": 30}}))
    );
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Reply { reply: Reply::Stopped(StopReply { summary, .. }), .. }
            if summary.overrides.is_some()
    )));
}

#[test]
fn a_resumed_session_is_republished_with_its_speed_and_overrides() {
    let mut m = Lifecycle::new(SETTINGS);
    let record = tuned().record().unwrap();
    let mut session = record.session.clone();
    session.speed = 2.0;
    let saved = PersistedSession {
        state: SessionState::Ready,
        stopping: false,
        session,
    };
    let out = m.handle(
        Input::Recovered(Recovered::Session {
            saved: Box::new(saved),
            clip_exists: true,
        }),
        at(0.0),
    );
    let tuning = out
        .iter()
        .find_map(|a| match a {
            Action::Republish { tuning, .. } => Some(tuning.clone()),
            _ => None,
        })
        .expect("republished");
    assert_eq!(tuning.speed, 2.0);
    assert_eq!(tuning.overrides, Some(json!({"motion": {"threshold": 30}})));
}

#[test]
fn a_file_is_measured_before_the_reply_and_replayed_over_its_own_timeline() {
    let mut m = machine();
    let out = m.handle(
        Input::StartFromFile {
            client: ADMIN,
            camera: "front".into(),
            path: "bug-1234/clip.mp4".into(),
            options: options(Some(2.0), None),
        },
        at(1.0),
    );
    assert_eq!(
        out,
        vec![Action::CheckFile {
            camera: "front".into(),
            path: "bug-1234/clip.mp4".into(),
            options: options(Some(2.0), None),
        }]
    );
    m.handle(
        Input::FileProbeStarted {
            file: ImportedFile {
                camera: "front".into(),
                name: "bug-1234/clip.mp4".into(),
                path: "/m/replayd-import/bug-1234/clip.mp4".into(),
            },
            clip_mode: Default::default(),
        },
        at(1.0),
    );
    assert_eq!(m.status_line(), "idle, checking file bug-1234/clip.mp4");
    assert!(!m.view().active);
    let out = m.handle(
        Input::ChildExited(ChildExit {
            stdout: b"12.0\n".to_vec(),
            ..exit_ok()
        }),
        at(1.2),
    );
    assert!(
        matches!(out.as_slice(), [Action::CheckNvr { .. }]),
        "{out:?}"
    );
    checked(&mut m, at(1.2));
    let view = m.view();
    assert_eq!((view.start_time, view.end_time), (Some(0.0), Some(12.0)));
    assert_eq!(view.speed, Some(2.0));
    let source = view.source.unwrap();
    assert_eq!(source.kind, "file");
    assert_eq!(source.path.as_deref(), Some("bug-1234/clip.mp4"));
}

#[test]
fn a_file_that_cannot_be_read_or_is_too_long_is_refused() {
    for (stdout, want) in [
        (&b"N/A\n"[..], "cannot read the duration of file 'a.mp4'"),
        (
            &b"99999\n"[..],
            "file 'a.mp4' is 99999s long, more than session.max_range",
        ),
    ] {
        let mut m = machine();
        m.handle(
            Input::StartFromFile {
                client: ADMIN,
                camera: "front".into(),
                path: "a.mp4".into(),
                options: StartOptions::default(),
            },
            at(1.0),
        );
        m.handle(
            Input::FileProbeStarted {
                file: ImportedFile {
                    camera: "front".into(),
                    name: "a.mp4".into(),
                    path: "/m/replayd-import/a.mp4".into(),
                },
                clip_mode: Default::default(),
            },
            at(1.0),
        );
        let out = m.handle(
            Input::ChildExited(ChildExit {
                stdout: stdout.to_vec(),
                ..exit_ok()
            }),
            at(1.2),
        );
        let (code, message) = refusal(&out).unwrap();
        assert_eq!(code, ErrorCode::InvalidParams);
        assert!(message.contains(want), "{message}");
        assert!(persisted(&out).is_empty());
    }
    // The shell's refusal (a symlink out of the import dir) is passed on.
    let mut m = machine();
    m.handle(
        Input::StartFromFile {
            client: ADMIN,
            camera: "front".into(),
            path: "escape.mp4".into(),
            options: StartOptions::default(),
        },
        at(1.0),
    );
    let out = m.handle(
        Input::ExportRefused {
            error: RequestError::InvalidParams(
                "file 'escape.mp4' leads out of the import dir".into(),
            ),
        },
        at(1.0),
    );
    assert!(refusal(&out).unwrap().1.contains("leads out"));
    assert!(!m.view().active);
}
