use super::*;
use crate::protocol::{JobResults, Summary};

fn reply() -> StartReply {
    StartReply {
        replay_camera: "_replay_front".into(),
        job_id: "j2".into(),
    }
}

fn state(id: &str, status: JobStatus, error: Option<&str>) -> Event {
    Event::JobState {
        job: Job {
            id: id.into(),
            job_type: "debug_replay".into(),
            status,
            start_time: None,
            end_time: None,
            error_message: error.map(Into::into),
            results: JobResults {
                source_camera: "front".into(),
                replay_camera_name: "_replay_front".into(),
                ..Default::default()
            },
        },
    }
}

fn camera(action: CameraAction, name: &str) -> Event {
    Event::Camera {
        action,
        camera: name.into(),
        config: None,
        sections: None,
    }
}

fn run(events: &[Event]) -> Vec<Verdict> {
    let mut wait = StartWait::new(&reply());
    events.iter().map(|e| wait.on_event(e)).collect()
}

use CameraAction::{Add, Remove};
use JobStatus::{Cancelled, Queued, Running, Success};
use Verdict::*;

#[test]
fn ready_on_camera_add_after_own_job() {
    let got = run(&[
        state("j2", Queued, None),
        state("j2", Running, None),
        camera(Add, "_replay_other"),
        camera(Add, "_replay_front"),
    ]);
    assert_eq!(got, [Progress, Progress, Unrelated, Ready]);
}

#[test]
fn ready_on_success_alone() {
    assert_eq!(run(&[state("j2", Success, None)]), [Ready]);
}

#[test]
fn events_of_an_earlier_session_are_ignored() {
    // A stop of an earlier _replay_front session that finished between
    // our subscribe and our start.
    let got = run(&[
        state("j1", Cancelled, None),
        camera(Remove, "_replay_front"),
        state(STOPPED_JOB_ID, Cancelled, None),
        Event::Summary {
            summary: Summary::default(),
        },
        camera(Add, "_replay_front"),
        state("j2", Running, None),
        camera(Add, "_replay_front"),
    ]);
    assert_eq!(
        got,
        [Unrelated, Unrelated, Unrelated, Unrelated, Unrelated, Progress, Ready]
    );
}

#[test]
fn failure_and_cancel_carry_the_reason() {
    assert_eq!(
        run(&[state(
            "j2",
            JobStatus::Failed,
            Some("ffmpeg: no such file\n")
        )]),
        [Failed("job j2 failed: ffmpeg: no such file".into())]
    );
    assert_eq!(
        run(&[state("j2", JobStatus::Failed, Some("  "))]),
        [Failed("job j2 failed: no reason given".into())]
    );
    assert_eq!(
        run(&[state("j2", Cancelled, None)]),
        [Failed("job j2 cancelled: the session was stopped".into())]
    );
}

#[test]
fn a_stop_after_our_job_started_ends_the_wait() {
    let got = run(&[
        state("j2", Running, None),
        state(STOPPED_JOB_ID, Cancelled, None),
    ]);
    assert_eq!(
        got[1],
        Failed("job j2 cancelled: the session was stopped".into())
    );
    let got = run(&[state("j2", Running, None), camera(Remove, "_replay_front")]);
    assert!(matches!(got[1], Failed(_)));
}
