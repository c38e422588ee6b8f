//! Every SPEC §2 transition against the machine alone: no daemon, no ffmpeg,
//! no clock. Inputs go in, the actions that come out are checked.

use std::path::PathBuf;

use super::*;
use crate::protocol::{ErrorCode, ReviewCounts};
use crate::replay::clip::Segment;

const SETTINGS: Settings = Settings {
    max_duration: 43_200.0,
    max_range: 21_600.0,
    stall_timeout: 60.0,
    kill_grace: 2.0,
    nvr_timeout: 10.0,
};
const BASE: f64 = 1_700_000_000.0;
const ADMIN: ClientId = 7;

fn at(boot: f64) -> Now {
    Now {
        wall: BASE + 1_000.0 + boot,
        boot,
    }
}

fn segments(n: usize) -> ClipPlan {
    let segs: Vec<Segment> = (0..n)
        .map(|i| Segment {
            path: PathBuf::from(format!("/m/recordings/{i}.mp4")),
            start_time: BASE + 10.0 * i as f64,
            end_time: BASE + 10.0 * (i + 1) as f64,
        })
        .collect();
    clip::plan(&segs, BASE, BASE + 10.0 * n as f64)
}

fn start_plan(n: usize) -> StartPlan {
    StartPlan {
        camera: "front".into(),
        start: BASE,
        end: BASE + 10.0 * n as f64,
        source: ClipSource::Recordings,
        plan: segments(n),
        warnings: Vec::new(),
        options: Default::default(),
        clip_mode: Default::default(),
    }
}

fn machine() -> Lifecycle {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(Input::Recovered(Recovered::Nothing), at(0.0));
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: None
    }));
    m
}

fn start(m: &mut Lifecycle, n: usize, now: Now) -> Vec<Action> {
    let out = m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 10.0 * n as f64,
            options: Default::default(),
        },
        now,
    );
    assert_eq!(
        out,
        vec![Action::CheckStart {
            client: ADMIN,
            camera: "front".into(),
            start: BASE,
            end: BASE + 10.0 * n as f64,
            options: Default::default(),
        }]
    );
    let out = m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(start_plan(n)),
        },
        now,
    );
    assert_eq!(
        out,
        vec![Action::CheckNvr {
            client: ADMIN,
            source: "front".into(),
            replay: "_replay_front".into(),
            remove_first: false,
        }]
    );
    checked(m, now)
}

/// The NVR said yes (a detect size of 1280x720 for the source).
fn checked(m: &mut Lifecycle, now: Now) -> Vec<Action> {
    m.handle(
        Input::NvrChecked {
            client: ADMIN,
            result: Ok(NvrFacts {
                detect_size: Some((1280, 720)),
            }),
        },
        now,
    )
}

/// A session whose ffmpeg runs.
fn cutting(n: usize) -> Lifecycle {
    let mut m = machine();
    start(&mut m, n, at(1.0));
    m.handle(
        Input::ClipStarted {
            record: Some(ChildRecord {
                pid: 42,
                start_ticks: 9,
            }),
        },
        at(1.0),
    );
    m
}

fn exit_ok() -> ChildExit {
    ChildExit {
        success: true,
        status: "exit status 0".into(),
        ..ChildExit::default()
    }
}

fn exit_failed(status: &str, stderr: &str) -> ChildExit {
    ChildExit {
        success: false,
        status: status.into(),
        stdout: Vec::new(),
        stderr_tail: stderr.into(),
    }
}

fn ready() -> Lifecycle {
    let mut m = cutting(3);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 30.0 }, at(5.0));
    m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/replayd/_replay_front.mp4".into(),
            warnings: Vec::new(),
        },
        at(5.0),
    );
    assert_eq!(m.view().state, SessionState::Ready);
    m
}

fn persisted(out: &[Action]) -> Vec<Option<(SessionState, bool)>> {
    out.iter()
        .filter_map(|a| match a {
            Action::Persist(record) => Some(record.as_ref().map(|r| (r.state, r.stopping))),
            _ => None,
        })
        .collect()
}

fn jobs(out: &[Action]) -> Vec<(JobStatus, String)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Emit(Event::JobState { job }) => Some((job.status, job.id.clone())),
            _ => None,
        })
        .collect()
}

fn failure(out: &[Action]) -> Option<String> {
    out.iter().find_map(|a| match a {
        Action::Emit(Event::JobState { job }) if job.status == JobStatus::Failed => {
            job.error_message.clone()
        }
        _ => None,
    })
}

fn refusal(out: &[Action]) -> Option<(ErrorCode, String)> {
    out.iter().find_map(|a| match a {
        Action::Reply {
            reply: Reply::Refused(e),
            ..
        } => {
            let body = e.body();
            Some((body.code, body.message))
        }
        _ => None,
    })
}

fn position(out: &[Action], pred: impl Fn(&Action) -> bool) -> usize {
    out.iter()
        .position(pred)
        .unwrap_or_else(|| panic!("not found in {out:#?}"))
}

// ---- start ----------------------------------------------------------------

#[test]
fn start_refuses_what_needs_no_io_before_asking_the_shell() {
    let cases: [(&str, f64, f64, &str); 6] = [
        ("a/b", BASE, BASE + 1.0, "invalid"),
        ("_replay_front", BASE, BASE + 1.0, "itself a replay camera"),
        ("front", f64::NAN, BASE, "finite"),
        ("front", BASE, f64::INFINITY, "finite"),
        ("front", BASE, BASE, "must be after"),
        ("front", BASE, BASE + 21_601.0, "session.max_range"),
    ];
    for (camera, s, e, why) in cases {
        let mut m = machine();
        let out = m.handle(
            Input::Start {
                client: ADMIN,
                camera: camera.into(),
                start_time: s,
                end_time: e,
                options: Default::default(),
            },
            at(1.0),
        );
        let (code, message) = refusal(&out).expect("refused");
        assert_eq!(code, ErrorCode::InvalidParams, "{camera} {s} {e}");
        assert!(message.contains(why), "{message}");
        assert!(persisted(&out).is_empty(), "nothing written: {out:?}");
        assert!(!out.iter().any(|a| matches!(a, Action::CheckStart { .. })));
    }
}

#[test]
fn range_errors_show_readable_utc_times() {
    let message = check_range(BASE + 5.0, BASE, 60.0).unwrap_err();
    assert!(message.contains("2023-11-14 22:13:25 UTC"), "{message}");
    assert!(check_range(BASE, BASE + 60.0, 60.0).is_ok());
}

#[test]
fn accepting_persists_before_the_job_starts_and_replies_once_it_has() {
    let mut m = machine();
    let out = start(&mut m, 3, at(1.0));
    let persist = position(&out, |a| matches!(a, Action::Persist(Some(_))));
    let spawn = position(&out, |a| matches!(a, Action::SpawnClip { .. }));
    let reply = position(&out, |a| {
        matches!(
            a,
            Action::Reply {
                reply: Reply::Started(_),
                ..
            }
        )
    });
    assert!(persist < spawn && spawn < reply, "{out:#?}");
    assert_eq!(
        persisted(&out),
        vec![Some((SessionState::PreparingClip, false))]
    );
    assert_eq!(jobs(&out)[0].0, JobStatus::Running);
    let view = m.view();
    assert!(view.active);
    assert_eq!(view.state, SessionState::PreparingClip);
    assert_eq!(view.auto_stop_at, Some(at(1.0).wall + 43_200.0));
    assert_eq!(
        m.status_line(),
        "preparing clip 0% for _replay_front from front"
    );
}

#[test]
fn a_refusal_found_by_the_shell_is_passed_on_and_nothing_is_written() {
    let mut m = machine();
    let out = m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Err(RequestError::NoRecordings {
                camera: "front".into(),
                start: BASE,
                end: BASE + 1.0,
            }),
        },
        at(1.0),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NoRecordings);
    assert!(persisted(&out).is_empty());
    assert!(!m.view().active);
}

#[test]
fn one_session_at_a_time_including_during_a_stop_and_an_export_check() {
    let mut m = cutting(2);
    let out = m.handle(
        Input::Start {
            client: 8,
            camera: "back".into(),
            start_time: BASE,
            end_time: BASE + 5.0,
            options: Default::default(),
        },
        at(2.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::AlreadyActive);
    assert!(message.contains("preparing_clip"), "{message}");

    m.handle(Input::Stop { client: ADMIN }, at(2.0));
    let out = m.handle(
        Input::StartFromExport {
            client: 8,
            export_id: "e".into(),
            options: Default::default(),
        },
        at(2.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::AlreadyActive);
    assert!(message.contains("being stopped"), "{message}");

    let mut m = machine();
    m.handle(
        Input::StartFromExport {
            client: 8,
            export_id: "e".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    let out = m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 5.0,
            options: Default::default(),
        },
        at(1.0),
    );
    let (code, message) = refusal(&out).unwrap();
    assert_eq!(code, ErrorCode::AlreadyActive);
    assert!(message.contains("export"), "{message}");
    // A checked start that arrives while another became active is refused too.
    let out = m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(start_plan(1)),
        },
        at(1.0),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::AlreadyActive);
}

#[test]
fn no_usable_segment_fails_the_job_after_acceptance() {
    let mut m = machine();
    let mut plan = start_plan(1);
    plan.plan = ClipPlan::default();
    m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(plan),
        },
        at(1.0),
    );
    let out = checked(&mut m, at(1.0));
    assert!(!out.iter().any(|a| matches!(a, Action::SpawnClip { .. })));
    assert_eq!(
        failure(&out).as_deref(),
        Some("none of the recordings in the range could be read")
    );
    assert_eq!(persisted(&out).last(), Some(&None));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Reply {
            reply: Reply::Started(_),
            ..
        }
    )));
    assert!(!m.view().active);
    assert_eq!(m.job().unwrap().status, JobStatus::Failed);
}

// ---- preparing_clip ---------------------------------------------------------

#[test]
fn the_ffmpeg_record_is_persisted_for_crash_recovery() {
    let mut m = machine();
    start(&mut m, 1, at(1.0));
    let out = m.handle(
        Input::ClipStarted {
            record: Some(ChildRecord {
                pid: 42,
                start_ticks: 9,
            }),
        },
        at(1.0),
    );
    let Some(Action::Persist(Some(record))) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(record.session.ffmpeg.map(|r| r.pid), Some(42));
}

#[test]
fn progress_is_throttled_to_once_a_second() {
    let mut m = cutting(6);
    let mut emitted = 0;
    for (i, t) in [1.0, 1.2, 1.5, 2.1, 2.2].iter().enumerate() {
        let out = m.handle(
            Input::Progress(ProgressUpdate::OutTime(10.0 * (i + 1) as f64)),
            at(*t),
        );
        emitted += jobs(&out).len();
    }
    assert_eq!(emitted, 2);
    assert_eq!(
        m.status_line(),
        "preparing clip 83% for _replay_front from front"
    );
}

#[test]
fn no_progress_for_the_stall_timeout_ends_ffmpeg_and_fails_the_job() {
    let mut m = cutting(2);
    assert_eq!(m.next_deadline(), Some(61.0));
    // Output that advances moves the stall check; output that does not, does not.
    m.handle(Input::Progress(ProgressUpdate::OutTime(3.0)), at(10.0));
    m.handle(Input::Progress(ProgressUpdate::OutTime(3.0)), at(20.0));
    assert_eq!(m.next_deadline(), Some(70.0));
    assert!(m.handle(Input::Timer, at(69.9)).is_empty());
    let out = m.handle(Input::Timer, at(70.0));
    assert!(out.contains(&Action::Terminate), "{out:?}");
    assert_eq!(m.next_deadline(), Some(72.0));
    let out = m.handle(Input::Timer, at(72.0));
    assert!(out.contains(&Action::Kill), "{out:?}");
    assert_eq!(m.next_deadline(), Some(BASE - BASE + 1.0 + 43_200.0));
    let out = m.handle(
        Input::ChildExited(exit_failed("killed by signal 9", "last words")),
        at(72.1),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("ffmpeg made no progress for 60s: last words")
    );
    assert!(out.contains(&Action::DiscardPartial {
        replay: "_replay_front".into()
    }));
    assert_eq!(
        persisted(&out),
        vec![Some((SessionState::PreparingClip, false)), None]
    );
}

#[test]
fn a_failed_ffmpeg_fails_the_job_with_its_stderr() {
    let mut m = cutting(2);
    let out = m.handle(
        Input::ChildExited(exit_failed("exit status 1", "Impossible to open segment")),
        at(3.0),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("ffmpeg failed (exit status 1): Impossible to open segment")
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Unpublish { .. })));
}

#[test]
fn a_spawn_failure_fails_the_job() {
    let mut m = machine();
    start(&mut m, 1, at(1.0));
    let out = m.handle(
        Input::StepFailed(JobFailure::Io("cannot run ffmpeg (/x): gone".into())),
        at(1.0),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("cannot run ffmpeg (/x): gone")
    );
    assert!(!m.view().active);
}

#[test]
fn a_finished_clip_is_measured_then_published_then_ready() {
    let mut m = cutting(3);
    let out = m.handle(Input::ChildExited(exit_ok()), at(5.0));
    // ffmpeg is gone: session.json forgets it before the clip is measured.
    let Some(Action::Persist(Some(record))) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(record.session.ffmpeg, None);
    assert_eq!(
        out[1..],
        [Action::MeasureClip {
            replay: "_replay_front".into()
        }]
    );
    let out = m.handle(Input::ClipMeasured { duration: 30.4 }, at(5.0));
    assert!(out.contains(&Action::Publish {
        source: "front".into(),
        replay: "_replay_front".into(),
        mode: Mode::Copy,
        detect_size: Some((1280, 720)),
        tuning: Default::default(),
    }));
    assert_eq!(
        persisted(&out),
        vec![Some((SessionState::StartingCamera, false))]
    );
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(Some(serde_json::json!({"enabled": true}))),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(5.1),
    );
    assert_eq!(persisted(&out), vec![Some((SessionState::Ready, false))]);
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Emit(Event::Camera {
            action: CameraAction::Add,
            ..
        })
    )));
    assert_eq!(
        jobs(&out),
        vec![(JobStatus::Success, m.job().unwrap().id.clone())]
    );
    assert_eq!(m.view().clip_path.as_deref(), Some("/m/x.mp4"));
    assert!(m
        .status_line()
        .starts_with("replaying _replay_front, auto-stop at "));
    // Only the auto-stop is left to wake up for.
    assert_eq!(m.next_deadline(), Some(1.0 + 43_200.0));
}

#[test]
fn a_clip_that_ended_early_is_rebuilt_without_the_bad_segment() {
    let mut m = cutting(4);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    // Ended at 20 s of 40: segment 2 (20..30) is the bad one.
    let out = m.handle(Input::ClipMeasured { duration: 20.0 }, at(5.0));
    let Some(Action::SpawnClip {
        plan, check_space, ..
    }) = out.iter().find(|a| matches!(a, Action::SpawnClip { .. }))
    else {
        panic!("{out:?}")
    };
    // The start measured the space; the old partial clip is still there.
    assert!(!check_space);
    assert_eq!(plan.entries.len(), 3);
    assert!(plan
        .entries
        .iter()
        .all(|e| e.path != std::path::Path::new("/m/recordings/2.mp4")));
    assert!(out.iter().any(
        |a| matches!(a, Action::Log { message, .. } if message.contains("rebuilding without it"))
    ));
}

#[test]
fn rebuilds_are_capped_and_one_segment_is_never_rebuilt() {
    let plan = segments(3);
    assert_eq!(judge_clip(&plan, 30.0, 0), ClipVerdict::Good);
    assert_eq!(judge_clip(&plan, 10.0, 0), ClipVerdict::Rebuild(1));
    assert_eq!(judge_clip(&plan, 10.0, 3), ClipVerdict::Fail(1));
    assert_eq!(judge_clip(&segments(1), 2.0, 0), ClipVerdict::Fail(0));

    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    let out = m.handle(Input::ClipMeasured { duration: 2.0 }, at(5.0));
    let message = failure(&out).unwrap();
    assert!(
        message.contains("the clip ends at 2.0s of 10.0s"),
        "{message}"
    );
}

#[test]
fn a_clip_measured_by_ffprobe_or_unreadable() {
    let mut m = cutting(2);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::MeasureStarted, at(5.0));
    assert!(m.has_child());
    let out = m.handle(
        Input::ChildExited(ChildExit {
            stdout: b"20.000000\n".to_vec(),
            ..exit_ok()
        }),
        at(5.2),
    );
    assert!(out.iter().any(|a| matches!(a, Action::Publish { .. })));

    let mut m = cutting(2);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::MeasureStarted, at(5.0));
    let out = m.handle(
        Input::ChildExited(exit_failed("exit status 1", "moov atom not found")),
        at(5.2),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("the clip is unreadable (exit status 1): moov atom not found")
    );
}

// ---- starting_camera and failure ----------------------------------------------

#[test]
fn a_refused_camera_fails_the_job_and_removes_the_clip() {
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Err(JobFailure::InvalidCamera("zones.a: bad".into())),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(5.0),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("the replay camera config is invalid: zones.a: bad")
    );
    let discard = position(&out, |a| matches!(a, Action::RemoveClip { .. }));
    let failed = position(&out, |a| matches!(a, Action::Emit(Event::JobState { .. })));
    assert!(discard < failed, "cleaned before the event: {out:#?}");
    assert!(!out.iter().any(|a| matches!(a, Action::Unpublish { .. })));
    // The camera file written before the NVR was asked goes too.
    let file = position(&out, |a| {
        *a == Action::RemoveCameraFile {
            replay: "_replay_front".into(),
        }
    });
    assert!(file < failed, "{out:#?}");
    assert_eq!(persisted(&out), vec![None]);
}

// ---- stop -------------------------------------------------------------------

#[test]
fn stop_with_nothing_active_is_not_active() {
    let mut m = machine();
    let out = m.handle(Input::Stop { client: ADMIN }, at(1.0));
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NotActive);
    m.handle(
        Input::StartFromExport {
            client: 8,
            export_id: "e".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    let out = m.handle(Input::Stop { client: ADMIN }, at(1.0));
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NotActive);
}

#[test]
fn stop_while_cutting_discards_the_clip_terminates_once_then_cleans() {
    let mut m = cutting(2);
    let job_id = m.job().unwrap().id.clone();
    let out = m.handle(Input::Stop { client: ADMIN }, at(3.0));
    assert_eq!(
        persisted(&out),
        vec![Some((SessionState::PreparingClip, true))]
    );
    let discard = position(&out, |a| matches!(a, Action::DiscardPartial { .. }));
    let term = position(&out, |a| *a == Action::Terminate);
    assert!(discard < term);
    assert_eq!(out.iter().filter(|a| **a == Action::Terminate).count(), 1);
    assert_eq!(m.status_line(), "stopping replay _replay_front");
    // The auto-stop no longer counts; the SIGKILL after the grace does.
    assert_eq!(m.next_deadline(), Some(5.0));
    // Progress and a second stop change nothing but the waiters.
    assert!(jobs(&m.handle(Input::Progress(ProgressUpdate::End), at(3.5))).is_empty());
    assert!(m.handle(Input::Stop { client: 9 }, at(3.6)).is_empty());

    let out = m.handle(
        Input::ChildExited(exit_failed("exit status 255", "")),
        at(3.7),
    );
    assert_eq!(jobs(&out), vec![(JobStatus::Cancelled, job_id)]);
    assert_eq!(
        out.last(),
        Some(&Action::CleanUp {
            replay: "_replay_front".into()
        })
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Unpublish { .. })));
    let out = m.handle(
        Input::Cleaned {
            summary: Summary {
                replay_camera: "_replay_front".into(),
                files_removed: 2,
                ..Summary::default()
            },
        },
        at(4.0),
    );
    assert_eq!(jobs(&out), vec![(JobStatus::Cancelled, "stopped".into())]);
    assert_eq!(persisted(&out), vec![None]);
    let replies: Vec<ClientId> = out
        .iter()
        .filter_map(|a| match a {
            Action::Reply {
                client,
                reply: Reply::Stopped(stop),
            } => {
                assert_eq!(stop.summary.files_removed, 2);
                Some(*client)
            }
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![ADMIN, 9]);
    assert_eq!(m.last_summary().unwrap().files_removed, 2);
    assert_eq!(m.status_line(), "idle");
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn stop_of_a_ready_session_unpublishes_and_reports_what_it_produced() {
    let mut m = ready();
    let out = m.handle(Input::Stop { client: ADMIN }, at(100.0));
    assert!(!out.contains(&Action::Terminate));
    // The job already succeeded: no cancelled state under its id.
    assert!(jobs(&out).is_empty());
    assert!(out.iter().any(|a| matches!(a, Action::Unpublish { .. })));
    // Rows and files go once the NVR confirmed.
    assert!(!out.iter().any(|a| matches!(a, Action::CleanUp { .. })));
    let out = m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(100.2),
    );
    assert!(out.iter().any(|a| matches!(a, Action::CleanUp { .. })));
    let out = m.handle(
        Input::Cleaned {
            summary: Summary {
                replay_camera: "_replay_front".into(),
                events: 3,
                review_segments: ReviewCounts {
                    alert: 1,
                    detection: 2,
                },
                ..Summary::default()
            },
        },
        at(100.5),
    );
    let summary = m.last_summary().unwrap();
    assert_eq!(summary.events, 3);
    assert!(
        (summary.duration_s - 99.5).abs() < 1e-9,
        "{}",
        summary.duration_s
    );
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Emit(Event::Summary { .. }))));
}

#[test]
fn a_camera_is_never_published_after_its_session_was_stopped() {
    // Stopped while its clip is measured by ffprobe.
    let mut m = cutting(2);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::MeasureStarted, at(5.0));
    let out = m.handle(Input::Stop { client: ADMIN }, at(5.1));
    assert!(out.contains(&Action::Terminate));
    let out = m.handle(
        Input::ChildExited(ChildExit {
            stdout: b"20.0\n".to_vec(),
            ..exit_ok()
        }),
        at(5.2),
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Publish { .. })));
    // Stopped while the camera is being published: a late yes is taken back.
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    m.handle(Input::Stop { client: ADMIN }, at(5.1));
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(5.2),
    );
    assert_eq!(
        out,
        vec![Action::Unpublish {
            replay: "_replay_front".into()
        }]
    );
    assert_ne!(m.view().state, SessionState::Ready);
}

// ---- auto-stop ------------------------------------------------------------

#[test]
fn auto_stop_fires_at_the_deadline_and_not_before() {
    let mut m = ready();
    assert_eq!(m.next_deadline(), Some(1.0 + 43_200.0));
    assert!(m.handle(Input::Timer, at(43_200.9)).is_empty());
    let out = m.handle(Input::Timer, at(43_201.0));
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Log { message, .. } if message.contains("auto-stop"))));
    assert!(out.iter().any(|a| matches!(a, Action::Unpublish { .. })));
    m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(43_201.0),
    );
    let out = m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(43_201.1),
    );
    // No client waits for an auto-stop.
    assert!(!out.iter().any(|a| matches!(a, Action::Reply { .. })));
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn an_idle_machine_never_asks_to_be_woken() {
    assert_eq!(machine().next_deadline(), None);
}

#[test]
fn new_limits_apply_after_a_reload() {
    let mut m = machine();
    m.set_settings(Settings {
        max_range: 10.0,
        ..SETTINGS
    });
    let out = m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 11.0,
            options: Default::default(),
        },
        at(1.0),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::InvalidParams);
}

// ---- start_from_export ------------------------------------------------------

fn export() -> Export {
    Export {
        id: "front_1-ab".into(),
        camera: "front".into(),
        date: BASE,
        video_path: "/m/exports/front_1-ab.mp4".into(),
        in_progress: false,
    }
}

#[test]
fn an_export_is_measured_before_the_reply_then_accepted_whole() {
    let mut m = machine();
    let out = m.handle(
        Input::StartFromExport {
            client: ADMIN,
            export_id: "front_1-ab".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    assert_eq!(
        out,
        vec![Action::CheckExport {
            export_id: "front_1-ab".into(),
            options: Default::default(),
        }]
    );
    m.handle(
        Input::ExportProbeStarted {
            export: export(),
            clip_mode: Default::default(),
        },
        at(1.0),
    );
    assert!(!m.view().active);
    assert_eq!(m.status_line(), "idle, checking export front_1-ab");
    assert_eq!(m.next_deadline(), Some(61.0));
    let out = m.handle(
        Input::ChildExited(ChildExit {
            stdout: b"42.5\n".to_vec(),
            ..exit_ok()
        }),
        at(1.2),
    );
    assert!(
        matches!(out.as_slice(), [Action::CheckNvr { .. }]),
        "{out:?}"
    );
    let out = checked(&mut m, at(1.2));
    let Some(Action::SpawnClip { plan, .. }) =
        out.iter().find(|a| matches!(a, Action::SpawnClip { .. }))
    else {
        panic!("{out:?}")
    };
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(plan.expected_duration, 42.5);
    let view = m.view();
    assert_eq!(view.end_time, Some(BASE + 42.5));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Reply {
            reply: Reply::Started(_),
            ..
        }
    )));
}

#[test]
fn an_export_that_cannot_be_replayed_is_refused_and_nothing_is_left() {
    let probe = |stdout: &[u8], success: bool| {
        let mut m = machine();
        m.handle(
            Input::StartFromExport {
                client: ADMIN,
                export_id: "x".into(),
                options: Default::default(),
            },
            at(1.0),
        );
        m.handle(
            Input::ExportProbeStarted {
                export: export(),
                clip_mode: Default::default(),
            },
            at(1.0),
        );
        let out = m.handle(
            Input::ChildExited(ChildExit {
                success,
                status: "exit status 1".into(),
                stdout: stdout.to_vec(),
                stderr_tail: "Invalid data".into(),
            }),
            at(1.2),
        );
        assert!(persisted(&out).is_empty());
        assert!(!m.view().active);
        refusal(&out).unwrap()
    };
    let (code, message) = probe(b"99999\n", true);
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("session.max_range"), "{message}");
    let (code, message) = probe(b"", false);
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("Invalid data"), "{message}");

    let mut m = machine();
    m.handle(
        Input::StartFromExport {
            client: ADMIN,
            export_id: "x".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    let out = m.handle(
        Input::ExportRefused {
            error: RequestError::NotFound("export 'x' does not exist".into()),
        },
        at(1.0),
    );
    assert_eq!(refusal(&out).unwrap().0, ErrorCode::NotFound);
    assert_eq!(m.status_line(), "idle");
}

#[test]
fn a_hung_export_probe_is_ended_and_the_start_refused() {
    let mut m = machine();
    m.handle(
        Input::StartFromExport {
            client: ADMIN,
            export_id: "x".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    m.handle(
        Input::ExportProbeStarted {
            export: export(),
            clip_mode: Default::default(),
        },
        at(1.0),
    );
    assert!(m
        .handle(Input::Timer, at(61.0))
        .contains(&Action::Terminate));
    let out = m.handle(
        Input::ChildExited(exit_failed("killed by signal 15", "")),
        at(61.1),
    );
    let (_, message) = refusal(&out).unwrap();
    assert!(
        message.contains("ffprobe did not finish in 60s"),
        "{message}"
    );
}

// ---- crash recovery and boot cleanup ---------------------------------------

fn saved(state: SessionState, stopping: bool, interruptions: u32) -> Recovered {
    let mut m = cutting(2);
    let record = m.record().unwrap();
    let mut session = record.session;
    session.interruptions = interruptions;
    drop(m.handle(Input::Shutdown, at(2.0)));
    Recovered::Session {
        saved: Box::new(PersistedSession {
            state,
            stopping,
            session,
        }),
        clip_exists: true,
    }
}

#[test]
fn no_state_or_a_state_from_another_boot_or_a_corrupt_one_is_boot_cleanup() {
    for recovered in [
        Recovered::Nothing,
        Recovered::OtherBoot,
        Recovered::Corrupt("x is unreadable".into()),
    ] {
        let mut m = Lifecycle::new(SETTINGS);
        let out = m.handle(Input::Recovered(recovered), at(0.0));
        assert!(out.contains(&Action::BootCleanup {
            keep: None,
            also: None
        }));
        assert_eq!(persisted(&out), vec![None]);
    }
}

#[test]
fn a_ready_session_is_resumed_with_the_same_deadline() {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(
        Input::Recovered(saved(SessionState::Ready, false, 0)),
        at(500.0),
    );
    assert!(out.contains(&Action::KillLeftover(ChildRecord {
        pid: 42,
        start_ticks: 9
    })));
    assert!(out.contains(&Action::Republish {
        source: "front".into(),
        replay: "_replay_front".into(),
        mode: Mode::Copy,
        tuning: Default::default(),
        detect_size: Some((1280, 720)),
    }));
    // Boot cleanup spares it at once, before the NVR answered.
    assert!(out.contains(&Action::BootCleanup {
        keep: Some("_replay_front".into()),
        also: None
    }));
    m.handle(Input::Republished { result: Ok(()) }, at(500.0));
    assert_eq!(m.view().state, SessionState::Ready);
    assert_eq!(m.job().unwrap().status, JobStatus::Success);
    assert_eq!(m.next_deadline(), Some(1.0 + 43_200.0));
}

#[test]
fn a_ready_session_whose_clip_is_gone_or_cannot_be_republished_is_cleaned() {
    let mut m = Lifecycle::new(SETTINGS);
    let Recovered::Session { saved: s, .. } = saved(SessionState::Ready, false, 0) else {
        unreachable!()
    };
    let out = m.handle(
        Input::Recovered(Recovered::Session {
            saved: s,
            clip_exists: false,
        }),
        at(1.0),
    );
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: Some("_replay_front".into())
    }));
    let mut m = Lifecycle::new(SETTINGS);
    m.handle(
        Input::Recovered(saved(SessionState::Ready, false, 0)),
        at(1.0),
    );
    let out = m.handle(
        Input::Republished {
            result: Err("the replay camera config is invalid".into()),
        },
        at(1.0),
    );
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: Some("_replay_front".into())
    }));
    assert_eq!(persisted(&out), vec![None]);
}

#[test]
fn an_interrupted_preparation_starts_over_once() {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(
        Input::Recovered(saved(SessionState::StartingCamera, false, 0)),
        at(1.0),
    );
    let Some(Action::Persist(Some(record))) =
        out.iter().find(|a| matches!(a, Action::Persist(Some(_))))
    else {
        panic!("{out:?}")
    };
    assert_eq!(record.session.interruptions, 1);
    assert_eq!(record.state, SessionState::PreparingClip);
    assert!(!record.session.published);
    assert!(out.contains(&Action::RemoveCameraFile {
        replay: "_replay_front".into()
    }));
    assert!(out.contains(&Action::BootCleanup {
        keep: Some("_replay_front".into()),
        also: None
    }));
    assert!(matches!(out.last(), Some(Action::Replan { .. })));
    let out = m.handle(
        Input::Replanned {
            result: Ok(segments(2)),
        },
        at(1.0),
    );
    assert!(out.iter().any(|a| matches!(a, Action::SpawnClip { .. })));

    // The plan cannot be made again: the job fails.
    let mut m = Lifecycle::new(SETTINGS);
    m.handle(
        Input::Recovered(saved(SessionState::PreparingClip, false, 0)),
        at(1.0),
    );
    let out = m.handle(
        Input::Replanned {
            result: Err("NVR database: locked".into()),
        },
        at(1.0),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("cannot restart the clip job: NVR database: locked")
    );
}

#[test]
fn a_second_interruption_fails_the_session() {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(
        Input::Recovered(saved(SessionState::PreparingClip, false, 1)),
        at(1.0),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("the daemon was interrupted twice while preparing the clip")
    );
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: Some("_replay_front".into())
    }));
    assert_eq!(persisted(&out).last(), Some(&None));
}

#[test]
fn a_stop_interrupted_by_a_crash_is_finished_at_start() {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(
        Input::Recovered(saved(SessionState::Ready, true, 0)),
        at(1.0),
    );
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: Some("_replay_front".into())
    }));
    assert!(!out.iter().any(|a| matches!(a, Action::Republish { .. })));
    assert!(!m.view().active);
}

// ---- exit -------------------------------------------------------------------

#[test]
fn sigterm_keeps_the_session_for_the_next_start_and_drops_the_partial_clip() {
    let mut m = cutting(2);
    let out = m.handle(Input::Shutdown, at(3.0));
    assert_eq!(out[0], Action::KillAndReap);
    assert!(out.contains(&Action::DiscardPartial {
        replay: "_replay_front".into()
    }));
    // Still there, without the ffmpeg that is gone now.
    let Some(Action::Persist(Some(record))) = out.iter().find(|a| matches!(a, Action::Persist(_)))
    else {
        panic!("{out:?}")
    };
    assert_eq!(record.session.ffmpeg, None);
    assert_eq!(record.state, SessionState::PreparingClip);
}

#[test]
fn sigterm_during_a_stop_finishes_the_stop() {
    let mut m = cutting(2);
    m.handle(Input::Stop { client: ADMIN }, at(3.0));
    let out = m.handle(Input::Shutdown, at(3.1));
    assert!(out.contains(&Action::KillAndReap));
    assert!(out.iter().any(|a| matches!(a, Action::CleanUp { .. })));
}

#[test]
fn every_phase_change_is_persisted_before_the_next_effect() {
    // Walk a whole session and check that no effect follows a phase change
    // without a Persist in between.
    let mut m = machine();
    let mut all = start(&mut m, 2, at(1.0));
    all.extend(m.handle(Input::ChildExited(exit_ok()), at(2.0)));
    all.extend(m.handle(Input::ClipMeasured { duration: 20.0 }, at(2.0)));
    all.extend(m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(2.0),
    ));
    all.extend(m.handle(Input::Stop { client: ADMIN }, at(3.0)));
    all.extend(m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(3.0),
    ));
    all.extend(m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(3.0),
    ));
    assert_eq!(
        persisted(&all),
        vec![
            Some((SessionState::PreparingClip, false)),
            Some((SessionState::StartingCamera, false)),
            Some((SessionState::Ready, false)),
            Some((SessionState::Ready, true)),
            None,
        ]
    );
}

// ---- the NVR: checks before the reply, removals owed -------------------------

#[test]
fn an_nvr_refusal_or_outage_before_the_reply_writes_nothing() {
    for (error, code) in [
        (
            RequestError::NvrRefused("Frigate 0.17 needs two cameras".into()),
            ErrorCode::NvrRefused,
        ),
        (
            RequestError::NvrUnavailable("connection refused".into()),
            ErrorCode::NvrUnavailable,
        ),
    ] {
        let mut m = machine();
        m.handle(
            Input::StartChecked {
                client: ADMIN,
                result: Ok(start_plan(1)),
            },
            at(1.0),
        );
        // Checking: not active yet, but no second start slips in.
        assert!(!m.view().active);
        let out = m.handle(
            Input::Start {
                client: 9,
                camera: "back".into(),
                start_time: BASE,
                end_time: BASE + 1.0,
                options: Default::default(),
            },
            at(1.0),
        );
        assert_eq!(refusal(&out).unwrap().0, ErrorCode::AlreadyActive);
        let out = m.handle(
            Input::NvrChecked {
                client: ADMIN,
                result: Err(error),
            },
            at(1.1),
        );
        assert_eq!(refusal(&out).unwrap().0, code);
        assert!(persisted(&out).is_empty(), "{out:?}");
        assert_eq!(m.status_line(), "idle");
    }
}

/// A ready session stopped while the NVR cannot be reached.
fn stopped_with_the_nvr_down() -> (Lifecycle, Vec<Action>) {
    let mut m = ready();
    m.handle(Input::Stop { client: ADMIN }, at(100.0));
    let mut out = m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Err("connection refused".into()),
        },
        at(100.0),
    );
    out.extend(m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(100.1),
    ));
    (m, out)
}

#[test]
fn a_stop_with_the_nvr_down_completes_locally_and_owes_the_removal() {
    let (m, out) = stopped_with_the_nvr_down();
    let stopped = out.iter().find_map(|a| match a {
        Action::Reply {
            reply: Reply::Stopped(stop),
            ..
        } => Some(stop.clone()),
        _ => None,
    });
    let stopped = stopped.expect("stop answered");
    assert_eq!(stopped.warnings.len(), 1, "{stopped:?}");
    assert!(stopped.warnings[0].contains("retries"), "{stopped:?}");
    assert_eq!(persisted(&out).last(), Some(&None));
    assert_eq!(m.pending_removals(), vec!["_replay_front".to_string()]);
    assert_eq!(m.status_line(), "idle; removal of _replay_front pending");
    // Not at once: a second after the failure.
    assert_eq!(m.next_deadline(), Some(101.0));
}

#[test]
fn owed_removals_are_retried_one_second_doubling_up_to_a_minute() {
    let (mut m, _) = stopped_with_the_nvr_down();
    let mut at_boot = 101.0;
    let mut waits = Vec::new();
    for _ in 0..9 {
        assert!(m.handle(Input::Timer, at(at_boot - 0.01)).is_empty());
        let out = m.handle(Input::Timer, at(at_boot));
        assert!(out.contains(&Action::Unpublish {
            replay: "_replay_front".into()
        }));
        // One try at a time.
        assert_eq!(m.next_deadline(), None);
        m.handle(
            Input::Unpublished {
                replay: "_replay_front".into(),
                result: Err("connection refused".into()),
            },
            at(at_boot),
        );
        let next = m.next_deadline().unwrap();
        waits.push(next - at_boot);
        at_boot = next;
    }
    assert_eq!(waits, [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0]);
    m.handle(Input::Timer, at(at_boot));
    let out = m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(at_boot),
    );
    // A stop has cleaned its files already: nothing more to do.
    assert!(!out.iter().any(|a| matches!(a, Action::CleanStale { .. })));
    assert!(m.pending_removals().is_empty());
    assert_eq!(m.next_deadline(), None);
    assert_eq!(m.status_line(), "idle");
}

#[test]
fn a_new_start_of_that_camera_first_completes_its_removal() {
    let (mut m, _) = stopped_with_the_nvr_down();
    m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 10.0,
            options: Default::default(),
        },
        at(100.5),
    );
    let out = m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(start_plan(1)),
        },
        at(100.5),
    );
    assert_eq!(
        out,
        vec![Action::CheckNvr {
            client: ADMIN,
            source: "front".into(),
            replay: "_replay_front".into(),
            remove_first: true,
        }]
    );
    checked(&mut m, at(100.6));
    assert!(m.pending_removals().is_empty());
    assert!(m.view().active);
}

#[test]
fn boot_cleanup_removes_from_the_nvr_first_then_the_files() {
    let mut m = Lifecycle::new(SETTINGS);
    m.handle(Input::Recovered(Recovered::Nothing), at(0.0));
    let out = m.handle(
        Input::BootCleaned {
            owed: vec!["_replay_old".into()],
        },
        at(0.0),
    );
    assert_eq!(
        out,
        vec![Action::Unpublish {
            replay: "_replay_old".into()
        }]
    );
    let out = m.handle(
        Input::Unpublished {
            replay: "_replay_old".into(),
            result: Ok(Removal::Removed),
        },
        at(0.3),
    );
    assert!(out.contains(&Action::CleanStale {
        replay: "_replay_old".into()
    }));
}

#[test]
fn an_add_with_no_answer_is_taken_back_and_a_late_one_too() {
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Err(JobFailure::NvrUnknown("connection lost".into())),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(6.0),
    );
    assert!(failure(&out).unwrap().contains("connection lost"));
    assert!(out.contains(&Action::Unpublish {
        replay: "_replay_front".into()
    }));

    // Stopped while the add was out; it is answered afterwards.
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    m.handle(Input::Stop { client: ADMIN }, at(5.1));
    m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(5.2),
    );
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(5.3),
    );
    assert_eq!(
        out,
        vec![Action::Unpublish {
            replay: "_replay_front".into()
        }]
    );
    assert_eq!(m.pending_removals(), vec!["_replay_front".to_string()]);
}

#[test]
fn absent_is_not_final_while_an_add_that_timed_out_may_still_land() {
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Err(JobFailure::NvrUnknown("timed out".into())),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(6.0),
    );
    // Settles three request timeouts (3 x 10 s) after the unknown outcome.
    let absent = |m: &mut Lifecycle, t: f64| {
        m.handle(
            Input::Unpublished {
                replay: "_replay_front".into(),
                result: Ok(Removal::Absent),
            },
            at(t),
        )
    };
    let out = absent(&mut m, 6.1);
    assert!(!out.iter().any(|a| matches!(a, Action::Forget { .. })));
    assert_eq!(m.pending_removals(), vec!["_replay_front".to_string()]);
    assert_eq!(m.next_deadline(), Some(7.1));
    // Looked at again until then; the late add is found and removed.
    assert!(m
        .handle(Input::Timer, at(7.1))
        .contains(&Action::Unpublish {
            replay: "_replay_front".into()
        }));
    let out = m.handle(
        Input::Unpublished {
            replay: "_replay_front".into(),
            result: Ok(Removal::Removed),
        },
        at(7.2),
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Forget { .. })));
    assert!(m.pending_removals().is_empty());

    // Never landed: after the settle time, absent is final and forgotten.
    let mut m = cutting(1);
    m.handle(Input::ChildExited(exit_ok()), at(5.0));
    m.handle(Input::ClipMeasured { duration: 10.0 }, at(5.0));
    m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Err(JobFailure::NvrUnknown("timed out".into())),
            clip_path: "/m/x.mp4".into(),
            warnings: Vec::new(),
        },
        at(6.0),
    );
    let mut t = 6.0;
    for _ in 0..20 {
        let out = absent(&mut m, t);
        if out.iter().any(|a| matches!(a, Action::Forget { .. })) {
            break;
        }
        t = m.next_deadline().expect("looked at again");
        m.handle(Input::Timer, at(t));
    }
    assert!(t >= 36.0, "absent taken as final at {t}");
    assert!(m.pending_removals().is_empty());
}

// ---- link mode -------------------------------------------------------------

fn link_choice(forced: bool) -> ModeChoice {
    ModeChoice {
        mode: Mode::Link,
        reason: None,
        forced,
    }
}

/// A session accepted in `choice`'s mode over `n` segments; the actions of
/// the acceptance.
fn start_in(m: &mut Lifecycle, n: usize, choice: ModeChoice, now: Now) -> Vec<Action> {
    m.handle(
        Input::Start {
            client: ADMIN,
            camera: "front".into(),
            start_time: BASE,
            end_time: BASE + 10.0 * n as f64,
            options: Default::default(),
        },
        now,
    );
    m.handle(
        Input::StartChecked {
            client: ADMIN,
            result: Ok(StartPlan {
                clip_mode: choice,
                ..start_plan(n)
            }),
        },
        now,
    );
    checked(m, now)
}

fn linking(n: usize, forced: bool) -> Lifecycle {
    let mut m = machine();
    let out = start_in(&mut m, n, link_choice(forced), at(1.0));
    assert!(out.contains(&Action::LinkSegments {
        replay: "_replay_front".into(),
        plan: segments(n),
        from: 0,
    }));
    m
}

fn link_ready(n: usize) -> Lifecycle {
    let mut m = linking(n, false);
    m.handle(
        Input::Linked {
            upto: n,
            bytes: 100 * n as u64,
            skipped: Vec::new(),
        },
        at(1.1),
    );
    m.handle(Input::PlaylistWritten, at(1.1));
    m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/replayd/_replay_front/playlist.ffconcat".into(),
            warnings: Vec::new(),
        },
        at(1.2),
    );
    assert_eq!(m.view().state, SessionState::Ready);
    m
}

#[test]
fn link_mode_links_in_batches_then_writes_the_playlist_then_publishes_it() {
    let n = link::BATCH + 10;
    let mut m = linking(n, false);
    let view = m.view();
    assert_eq!(view.state, SessionState::PreparingClip);
    assert_eq!(view.clip_mode.as_deref(), Some("link"));
    assert_eq!(view.clip_mode_reason, None);
    assert_eq!(view.linked_bytes, Some(0));
    // No child: nothing to stall, only the auto-stop is due.
    assert!(!m.has_child());
    assert_eq!(m.next_deadline(), Some(1.0 + SETTINGS.max_duration));

    let out = m.handle(
        Input::Linked {
            upto: link::BATCH,
            bytes: 1000,
            skipped: Vec::new(),
        },
        at(1.1),
    );
    assert!(out.contains(&Action::LinkSegments {
        replay: "_replay_front".into(),
        plan: segments(n),
        from: link::BATCH,
    }));
    assert_eq!(m.view().linked_bytes, Some(1000));
    let out = m.handle(
        Input::Linked {
            upto: n,
            bytes: 50,
            skipped: Vec::new(),
        },
        at(1.2),
    );
    assert!(out.contains(&Action::WritePlaylist {
        replay: "_replay_front".into(),
        plan: segments(n),
        skipped: Vec::new(),
    }));
    assert_eq!(m.view().linked_bytes, Some(1050));
    // The link count is persisted for status after a restart.
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Persist(Some(r)) if r.session.linked_bytes == Some(1050)
    )));

    let out = m.handle(Input::PlaylistWritten, at(1.3));
    assert!(out.contains(&Action::Publish {
        source: "front".into(),
        replay: "_replay_front".into(),
        mode: Mode::Link,
        detect_size: Some((1280, 720)),
        tuning: Default::default(),
    }));
    assert_eq!(m.view().state, SessionState::StartingCamera);
    let out = m.handle(
        Input::Published {
            replay: "_replay_front".into(),
            result: Ok(None),
            clip_path: "/m/replayd/_replay_front/playlist.ffconcat".into(),
            warnings: Vec::new(),
        },
        at(1.4),
    );
    assert_eq!(
        jobs(&out),
        vec![(JobStatus::Success, m.job().unwrap().id.clone())]
    );
    let view = m.view();
    assert_eq!(view.state, SessionState::Ready);
    assert_eq!(
        view.clip_path.as_deref(),
        Some("/m/replayd/_replay_front/playlist.ffconcat")
    );
    assert_eq!(view.clip_mode.as_deref(), Some("link"));
    assert_eq!(view.linked_bytes, Some(1050));
    assert!(view.warnings.is_empty(), "{:?}", view.warnings);
}

#[test]
fn link_progress_counts_segments_once_a_second() {
    let n = 4 * link::BATCH;
    let mut m = linking(n, false);
    let out = m.handle(
        Input::Linked {
            upto: link::BATCH,
            bytes: 1,
            skipped: Vec::new(),
        },
        at(1.1),
    );
    let percents = |out: &[Action]| -> Vec<f64> {
        out.iter()
            .filter_map(|a| match a {
                Action::Emit(Event::JobState { job }) => job.results.progress_percent,
                _ => None,
            })
            .collect()
    };
    // The first update goes out (25% of the segments), the next within the
    // second does not, the one after it does.
    assert_eq!(percents(&out), vec![25.0]);
    let out = m.handle(
        Input::Linked {
            upto: 2 * link::BATCH,
            bytes: 1,
            skipped: Vec::new(),
        },
        at(1.5),
    );
    assert_eq!(percents(&out), Vec::<f64>::new());
    let out = m.handle(
        Input::Linked {
            upto: 3 * link::BATCH,
            bytes: 1,
            skipped: Vec::new(),
        },
        at(2.2),
    );
    assert_eq!(percents(&out), vec![75.0]);
}

#[test]
fn auto_copies_when_a_link_is_refused_at_run_time_and_says_why() {
    let mut m = linking(3, false);
    let out = m.handle(
        Input::LinkRefused {
            reason: "cross-device: /m/r/1.mp4 is on another file system".into(),
        },
        at(1.1),
    );
    let removed = position(&out, |a| matches!(a, Action::RemoveClip { .. }));
    let spawned = position(&out, |a| matches!(a, Action::SpawnClip { .. }));
    assert!(removed < spawned, "{out:?}");
    assert!(failure(&out).is_none());
    let view = m.view();
    assert_eq!(view.clip_mode.as_deref(), Some("copy"));
    assert_eq!(
        view.clip_mode_reason.as_deref(),
        Some("cross-device: /m/r/1.mp4 is on another file system")
    );
    assert_eq!(view.linked_bytes, None);
    assert!(view.warnings.iter().any(|w| w.contains("cross-device")));
    // From here on it is a copy-mode session.
    m.handle(Input::ClipStarted { record: None }, at(1.2));
    m.handle(Input::ChildExited(exit_ok()), at(3.0));
    let out = m.handle(Input::ClipMeasured { duration: 30.0 }, at(3.0));
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Publish {
            mode: Mode::Copy,
            ..
        }
    )));
}

#[test]
fn forced_link_refused_at_run_time_fails_the_job_and_removes_the_links() {
    let mut m = linking(3, true);
    let out = m.handle(
        Input::LinkRefused {
            reason: "protected_hardlinks: /m/r/0.mp4 is owned by uid 0".into(),
        },
        at(1.1),
    );
    let message = failure(&out).unwrap();
    assert_eq!(
        message,
        "cannot link the footage: protected_hardlinks: /m/r/0.mp4 is owned by uid 0"
    );
    assert!(out.contains(&Action::RemoveClip {
        replay: "_replay_front".into()
    }));
    assert!(!out.iter().any(|a| matches!(a, Action::SpawnClip { .. })));
    assert!(!m.view().active);
    assert_eq!(persisted(&out).last(), Some(&None));
}

#[test]
fn a_segment_gone_since_the_check_is_skipped_with_a_warning_and_left_out_of_the_playlist() {
    let mut m = linking(3, false);
    let warning = "skipping recording segment: segment /m/recordings/1.mp4 does not exist (gone since the start's check)";
    let out = m.handle(
        Input::Linked {
            upto: 3,
            bytes: 200,
            skipped: vec![(1, warning.to_string())],
        },
        at(1.1),
    );
    assert!(out.contains(&Action::WritePlaylist {
        replay: "_replay_front".into(),
        plan: segments(3),
        skipped: vec![1],
    }));
    assert!(out.contains(&Action::Log {
        level: log::Level::Warn,
        message: warning.to_string(),
    }));
    assert!(m.view().warnings.iter().any(|w| w == warning));
    assert!(failure(&out).is_none());

    // Every segment gone: the job fails as with none usable at the start.
    let mut m = linking(2, false);
    m.handle(
        Input::Linked {
            upto: 1,
            bytes: 0,
            skipped: vec![(0, "gone 0".into())],
        },
        at(1.1),
    );
    let out = m.handle(
        Input::Linked {
            upto: 2,
            bytes: 0,
            skipped: vec![(1, "gone 1".into())],
        },
        at(1.2),
    );
    let message = failure(&out).expect("failed");
    assert!(message.contains("none of the recordings"), "{message}");
    assert!(!out
        .iter()
        .any(|a| matches!(a, Action::WritePlaylist { .. })));
}

#[test]
fn a_copy_after_a_refused_link_leaves_out_what_was_found_gone() {
    let mut m = linking(3, false);
    m.handle(
        Input::Linked {
            upto: 2,
            bytes: 100,
            skipped: vec![(0, "gone".into())],
        },
        at(1.1),
    );
    let out = m.handle(
        Input::LinkRefused {
            reason: "cross-device: x".into(),
        },
        at(1.2),
    );
    let Some(Action::SpawnClip {
        plan, check_space, ..
    }) = out.iter().find(|a| matches!(a, Action::SpawnClip { .. }))
    else {
        panic!("{out:?}")
    };
    assert!(check_space, "the start asked for no space in link mode");
    assert_eq!(plan, &clip::without_entry(&segments(3), 0));
}

#[test]
fn a_failed_link_step_fails_the_job_and_removes_what_was_linked() {
    let mut m = linking(3, false);
    let out = m.handle(
        Input::StepFailed(JobFailure::Io(
            "cannot link: segment /m/r/1.mp4 does not exist".into(),
        )),
        at(1.1),
    );
    assert_eq!(
        failure(&out).as_deref(),
        Some("cannot link: segment /m/r/1.mp4 does not exist")
    );
    assert!(out.contains(&Action::RemoveClip {
        replay: "_replay_front".into()
    }));
    assert!(!m.view().active);
}

#[test]
fn stop_while_linking_removes_the_links_and_ignores_the_batch_in_flight() {
    let mut m = linking(2 * link::BATCH, false);
    let out = m.handle(Input::Stop { client: ADMIN }, at(1.1));
    // No child to wait for: cancelled, then cleaned (the folder goes with it).
    assert!(!out.iter().any(|a| matches!(a, Action::Terminate)));
    assert!(out.contains(&Action::CleanUp {
        replay: "_replay_front".into()
    }));
    assert_eq!(jobs(&out)[0].0, JobStatus::Cancelled);
    // The batch the shell finished before the stop changes nothing.
    let out = m.handle(
        Input::Linked {
            upto: link::BATCH,
            bytes: 1,
            skipped: Vec::new(),
        },
        at(1.2),
    );
    assert!(out.is_empty(), "{out:?}");
    let out = m.handle(
        Input::Cleaned {
            summary: Summary::default(),
        },
        at(1.3),
    );
    assert!(!m.view().active);
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Reply {
            reply: Reply::Stopped(_),
            ..
        }
    )));
}

#[test]
fn a_playlist_written_early_or_late_changes_nothing() {
    let mut m = linking(3, false);
    // Not all linked yet.
    assert!(m.handle(Input::PlaylistWritten, at(1.1)).is_empty());
    let mut m = ready();
    assert!(m.handle(Input::PlaylistWritten, at(9.0)).is_empty());
    assert!(m
        .handle(
            Input::Linked {
                upto: 1,
                bytes: 1,
                skipped: Vec::new()
            },
            at(9.0)
        )
        .is_empty());
    assert!(m
        .handle(Input::LinkRefused { reason: "x".into() }, at(9.0))
        .is_empty());
}

#[test]
fn auto_that_cannot_link_copies_with_the_reason_in_status_and_warnings() {
    let mut m = machine();
    let out = start_in(
        &mut m,
        2,
        ModeChoice {
            mode: Mode::Copy,
            reason: Some("cross-device: /m/r/0.mp4".into()),
            forced: false,
        },
        at(1.0),
    );
    assert!(out.iter().any(|a| matches!(a, Action::SpawnClip { .. })));
    let view = m.view();
    assert_eq!(view.clip_mode.as_deref(), Some("copy"));
    assert_eq!(
        view.clip_mode_reason.as_deref(),
        Some("cross-device: /m/r/0.mp4")
    );
    assert_eq!(
        view.warnings,
        vec!["link mode not used, the footage is copied: cross-device: /m/r/0.mp4"]
    );
    // Copy asked for: said in status, not a warning.
    let mut m = machine();
    start_in(
        &mut m,
        2,
        ModeChoice {
            mode: Mode::Copy,
            reason: Some("clip_mode copy".into()),
            forced: true,
        },
        at(1.0),
    );
    assert_eq!(m.view().clip_mode_reason.as_deref(), Some("clip_mode copy"));
    assert!(m.view().warnings.is_empty());
}

#[test]
fn an_export_is_linked_whole_as_one_entry() {
    let mut m = machine();
    m.handle(
        Input::StartFromExport {
            client: ADMIN,
            export_id: "front_1-ab".into(),
            options: Default::default(),
        },
        at(1.0),
    );
    m.handle(
        Input::ExportProbeStarted {
            export: export(),
            clip_mode: link_choice(false),
        },
        at(1.0),
    );
    m.handle(
        Input::ChildExited(ChildExit {
            stdout: b"42.5\n".to_vec(),
            ..exit_ok()
        }),
        at(1.2),
    );
    let out = checked(&mut m, at(1.2));
    let Some(Action::LinkSegments { plan, from: 0, .. }) = out
        .iter()
        .find(|a| matches!(a, Action::LinkSegments { .. }))
    else {
        panic!("{out:?}")
    };
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(
        plan.entries[0].path,
        PathBuf::from("/m/exports/front_1-ab.mp4")
    );
    assert_eq!(plan.entries[0].inpoint, None);
    assert_eq!(m.view().clip_mode.as_deref(), Some("link"));
}

fn saved_link(state: SessionState) -> Recovered {
    let m = link_ready(2);
    let session = m.record().unwrap().session;
    Recovered::Session {
        saved: Box::new(PersistedSession {
            state,
            stopping: false,
            session,
        }),
        clip_exists: true,
    }
}

#[test]
fn a_ready_link_session_is_resumed_on_its_playlist() {
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(Input::Recovered(saved_link(SessionState::Ready)), at(1.0));
    assert!(out.contains(&Action::Republish {
        source: "front".into(),
        replay: "_replay_front".into(),
        mode: Mode::Link,
        tuning: Default::default(),
        detect_size: Some((1280, 720)),
    }));
    m.handle(Input::Republished { result: Ok(()) }, at(1.0));
    let view = m.view();
    assert_eq!(view.state, SessionState::Ready);
    assert_eq!(view.clip_mode.as_deref(), Some("link"));
    assert_eq!(view.linked_bytes, Some(200));

    // Links or playlist gone: cleaned up like a copy session without its clip.
    let Recovered::Session { saved, .. } = saved_link(SessionState::Ready) else {
        unreachable!()
    };
    let mut m = Lifecycle::new(SETTINGS);
    let out = m.handle(
        Input::Recovered(Recovered::Session {
            saved,
            clip_exists: false,
        }),
        at(1.0),
    );
    assert!(out.contains(&Action::BootCleanup {
        keep: None,
        also: Some("_replay_front".into())
    }));
}

#[test]
fn an_interrupted_link_session_relinks_from_the_first_segment() {
    let mut m = Lifecycle::new(SETTINGS);
    m.handle(
        Input::Recovered(saved_link(SessionState::PreparingClip)),
        at(1.0),
    );
    assert_eq!(m.view().linked_bytes, Some(0));
    let out = m.handle(
        Input::Replanned {
            result: Ok(segments(2)),
        },
        at(1.0),
    );
    assert!(out.contains(&Action::LinkSegments {
        replay: "_replay_front".into(),
        plan: segments(2),
        from: 0,
    }));
}

#[test]
fn shutdown_while_linking_keeps_the_session_for_the_restart() {
    let mut m = linking(3, false);
    let out = m.handle(Input::Shutdown, at(1.1));
    assert!(!out.iter().any(|a| matches!(
        a,
        Action::DiscardPartial { .. } | Action::RemoveClip { .. } | Action::KillAndReap
    )));
    assert_eq!(m.record().unwrap().state, SessionState::PreparingClip);
}

mod tuning;
