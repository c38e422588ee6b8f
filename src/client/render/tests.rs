use super::*;
use crate::client::time::FixedOffset;
use crate::protocol::{BeforeAfter, JobResults, ReviewCounts, SessionView, SourceView};
use serde_json::json;

const UTC: FixedOffset = FixedOffset(0);
// 2026-11-24T10:00:00Z
const T0: f64 = 1_795_514_400.0;

fn job(status: JobStatus, step: Option<&str>, pct: Option<f64>) -> Job {
    Job {
        id: "1795514400-ab12".into(),
        job_type: "debug_replay".into(),
        status,
        start_time: Some(T0),
        end_time: None,
        error_message: None,
        results: JobResults {
            current_step: step.map(Into::into),
            progress_percent: pct,
            source_camera: "front".into(),
            replay_camera_name: "_replay_front".into(),
            start_ts: Some(T0 - 600.0),
            end_ts: Some(T0 - 300.0),
        },
    }
}

fn summary() -> Summary {
    Summary {
        replay_camera: "_replay_front".into(),
        duration_s: 723.0,
        events: 14,
        events_by_label: [("car".to_string(), 3), ("person".to_string(), 11)]
            .into_iter()
            .collect(),
        review_segments: ReviewCounts {
            alert: 1,
            detection: 5,
        },
        files_removed: 120,
        rows_removed: 300,
        overrides: None,
    }
}

#[test]
fn cleans_control_characters() {
    assert_eq!(clean("a\x1b[2Jb", false), "a\\u{1b}[2Jb");
    assert_eq!(clean("a\nb\tc", true), "a\nb\tc");
    assert_eq!(clean("a\nb", false), "a\\nb");
    assert_eq!(clean("\u{9b}x", false), "\\u{9b}x");
}

#[test]
fn job_lines() {
    let cases = [
        (
            job(JobStatus::Running, Some("preparing_clip"), Some(42.7)),
            "1795514400-ab12 running: preparing_clip 42%",
        ),
        (
            job(JobStatus::Running, None, None),
            "1795514400-ab12 running: 0%",
        ),
        (
            job(JobStatus::Running, Some("x"), Some(f64::NAN)),
            "1795514400-ab12 running: x 0%",
        ),
        (
            job(JobStatus::Running, Some("x"), Some(250.0)),
            "1795514400-ab12 running: x 100%",
        ),
        (
            job(JobStatus::Queued, None, None),
            "1795514400-ab12 queued for _replay_front",
        ),
        (
            job(JobStatus::Success, None, Some(100.0)),
            "1795514400-ab12 success: _replay_front published",
        ),
        (
            job(JobStatus::Failed, None, None),
            "1795514400-ab12 failed (_replay_front)",
        ),
    ];
    for (job, want) in cases {
        assert_eq!(job_summary(&job), want);
    }
    let mut stopped = job(JobStatus::Cancelled, None, None);
    stopped.id = STOPPED_JOB_ID.into();
    assert_eq!(
        job_summary(&stopped),
        "stopped: session of _replay_front stopped"
    );
}

#[test]
fn progress_bar_fits_the_width() {
    let j = job(JobStatus::Running, Some("preparing_clip"), Some(50.0));
    assert_eq!(
        progress_bar(&j, 80),
        format!(
            "[{}{}]  50%  preparing_clip",
            "#".repeat(20),
            ".".repeat(20)
        )
    );
    let narrow = progress_bar(&j, 30);
    assert_eq!(narrow.chars().count(), 30, "{narrow}");
    assert!(narrow.starts_with("[#####.....]  50%  "), "{narrow}");
    // Too narrow for even the shortest bar and the percent: stays short.
    assert!(progress_bar(&j, 5).chars().count() <= 19);
    let done = progress_bar(&job(JobStatus::Running, None, Some(100.0)), 80);
    assert!(
        done.starts_with(&format!("[{}] 100%  running", "#".repeat(40))),
        "{done}"
    );
    let empty = progress_bar(&job(JobStatus::Queued, None, None), 80);
    assert!(
        empty.starts_with("[....") && empty.ends_with("  0%  queued"),
        "{empty}"
    );
}

#[test]
fn step_log_prints_steps_and_tens() {
    let mut log = StepLog::default();
    let seq = [
        (JobStatus::Queued, None, None, true),
        (JobStatus::Running, Some("preparing_clip"), Some(0.0), true),
        (JobStatus::Running, Some("preparing_clip"), Some(4.0), false),
        (JobStatus::Running, Some("preparing_clip"), Some(10.5), true),
        (
            JobStatus::Running,
            Some("preparing_clip"),
            Some(19.0),
            false,
        ),
        (JobStatus::Running, Some("preparing_clip"), Some(45.0), true),
        (
            JobStatus::Running,
            Some("preparing_clip"),
            Some(40.0),
            false,
        ),
        (
            JobStatus::Running,
            Some("starting_camera"),
            Some(100.0),
            true,
        ),
        (
            JobStatus::Success,
            Some("starting_camera"),
            Some(100.0),
            true,
        ),
    ];
    for (i, (status, step, pct, want)) in seq.into_iter().enumerate() {
        assert_eq!(log.should_print(&job(status, step, pct)), want, "step {i}");
    }
}

#[test]
fn status_of_a_running_session() {
    let reply = StatusReply {
        session: SessionView {
            active: true,
            state: SessionState::PreparingClip,
            replay_camera: Some("_replay_front".into()),
            source_camera: Some("front".into()),
            start_time: Some(T0 - 600.0),
            end_time: Some(T0 - 300.0),
            started_at: Some(T0 - 30.0),
            auto_stop_at: Some(T0 - 30.0 + 43_200.0),
            ..SessionView::idle()
        },
        job: Some(job(JobStatus::Running, Some("preparing_clip"), Some(42.0))),
        last_summary: None,
        pending_removals: Vec::new(),
    };
    let want = "\
session:     preparing clip
camera:      _replay_front (replaying front)
range:       2026-11-24 09:50:00 +00:00 to 2026-11-24 09:55:00 +00:00 (5m)
started:     2026-11-24 09:59:30 +00:00 (30s ago)
auto-stop:   2026-11-24 21:59:30 +00:00 (in 11h 59m)
job:         1795514400-ab12 running: preparing_clip 42%
";
    assert_eq!(status_text(&reply, T0, &UTC), want);
}

#[test]
fn status_when_idle_after_a_failure() {
    let mut failed = job(JobStatus::Failed, Some("preparing_clip"), Some(12.0));
    failed.end_time = Some(T0 - 120.0);
    failed.error_message = Some("ffmpeg exited with 1:\nsegment.mp4: Invalid data\x1b[0m".into());
    let reply = StatusReply {
        session: SessionView::idle(),
        job: Some(failed),
        last_summary: Some(summary()),
        pending_removals: Vec::new(),
    };
    let want = "\
session:     none active
last job:    1795514400-ab12 failed (_replay_front), ended 2m ago
error:       ffmpeg exited with 1:
             segment.mp4: Invalid data\\u{1b}[0m
last replay: _replay_front ran 12m 3s: 14 events (person 11, car 3); 1 alert, 5 detections; removed 120 files, 300 rows
";
    assert_eq!(status_text(&reply, T0, &UTC), want);
}

#[test]
fn summaries() {
    let want = "\
stopped:     _replay_front
ran:         12m 3s
events:      14 events (person 11, car 3)
reviews:     1 alert, 5 detections
removed:     120 files, 300 rows from the database
";
    assert_eq!(summary_text(&summary()), want);
    let empty = Summary {
        replay_camera: "_replay_x".into(),
        events: 1,
        files_removed: 1,
        rows_removed: 1,
        ..Default::default()
    };
    assert_eq!(
        summary_line(&empty),
        "_replay_x ran 0s: 1 event; 0 alerts, 0 detections; removed 1 file, 1 row"
    );
}

#[test]
fn event_lines() {
    let mut failed = job(JobStatus::Failed, None, None);
    failed.error_message = Some("no space\nleft".into());
    let cases = [
        (
            Event::JobState { job: failed },
            "job 1795514400-ab12 failed (_replay_front): no space\n    left",
        ),
        (
            Event::Camera {
                action: CameraAction::Add,
                camera: "_replay_front".into(),
                config: None,
                sections: None,
            },
            "camera _replay_front published",
        ),
        (
            Event::Camera {
                action: CameraAction::Update,
                camera: "_replay_front".into(),
                config: None,
                sections: Some(vec!["motion".into(), "zones".into()]),
            },
            "camera _replay_front updated (sections motion, zones)",
        ),
        (
            Event::Camera {
                action: CameraAction::Update,
                camera: "_replay_front".into(),
                config: None,
                sections: None,
            },
            "camera _replay_front updated",
        ),
        (
            Event::Camera {
                action: CameraAction::Remove,
                camera: "_replay_front".into(),
                config: None,
                sections: None,
            },
            "camera _replay_front removed",
        ),
    ];
    for (event, want) in cases {
        assert_eq!(event_line(&event), want);
    }
    let line = event_line(&Event::Summary { summary: summary() });
    assert!(
        line.starts_with("summary _replay_front ran 12m 3s"),
        "{line}"
    );
}

#[test]
fn pong() {
    let p = Pong {
        version: "0.1.0".into(),
        protocol: PROTOCOL_VERSION,
        publisher: Some("frigate".into()),
    };
    assert_eq!(
        pong_text(&p),
        "replayd 0.1.0, protocol 2, publisher frigate"
    );
    let newer = Pong {
        version: "9.0.0".into(),
        protocol: 3,
        publisher: None,
    };
    assert!(pong_text(&newer).ends_with("(this replayctl speaks protocol 2)"));
}

fn ready_session() -> SessionView {
    SessionView {
        active: true,
        state: SessionState::Ready,
        replay_camera: Some("_replay_front".into()),
        source_camera: Some("front".into()),
        start_time: Some(T0 - 600.0),
        end_time: Some(T0 - 300.0),
        started_at: Some(T0 - 30.0),
        auto_stop_at: Some(T0 - 30.0 + 43_200.0),
        clip_path: Some("/srv/frigate/replayd/_replay_front/playlist.ffconcat".into()),
        clip_mode: Some("link".into()),
        clip_mode_reason: Some("segments and replay dir on one file system".into()),
        linked_bytes: Some(1_288_490_189),
        speed: Some(4.0),
        overrides: Some(json!({
            "motion": {"threshold": 30, "mask": null},
            "zones": {"yard": {"inertia": 5}},
        })),
        view_url: Some(
            "http://127.0.0.1:5000/api/_replay_front?bbox=1&zones=1&mask=1&motion=1".into(),
        ),
        source: Some(SourceView {
            kind: "recordings".into(),
            export_id: None,
            path: None,
        }),
        warnings: vec!["detect size taken from the clip (1280x720)".into()],
    }
}

#[test]
fn status_of_a_tuned_session() {
    let reply = StatusReply {
        session: ready_session(),
        job: None,
        last_summary: None,
        pending_removals: Vec::new(),
    };
    let want = "\
session:     ready
camera:      _replay_front (replaying front)
source:      recordings
range:       2026-11-24 09:50:00 +00:00 to 2026-11-24 09:55:00 +00:00 (5m)
speed:       4x (detection sees 4 times the camera's frames per second)
started:     2026-11-24 09:59:30 +00:00 (30s ago)
auto-stop:   2026-11-24 21:59:30 +00:00 (in 11h 59m)
clip:        /srv/frigate/replayd/_replay_front/playlist.ffconcat
clip mode:   link (segments and replay dir on one file system)
linked:      1.2 GiB of footage held by links
overrides:   motion.mask: null
             motion.threshold: 30
             zones.yard.inertia: 5
watch:       http://127.0.0.1:5000/api/_replay_front?bbox=1&zones=1&mask=1&motion=1
warning:     detect size taken from the clip (1280x720)
";
    assert_eq!(status_text(&reply, T0, &UTC), want);
}

#[test]
fn status_of_other_sources() {
    let mut s = ready_session();
    s.source = Some(SourceView {
        kind: "file".into(),
        export_id: None,
        path: Some("bugs/1234.mp4".into()),
    });
    s.start_time = Some(0.0);
    s.end_time = Some(150.0);
    s.speed = Some(1.0);
    s.clip_mode = Some("copy".into());
    s.clip_mode_reason = Some("cross-device".into());
    s.linked_bytes = None;
    s.overrides = Some(json!({}));
    s.warnings.clear();
    s.view_url = None;
    let reply = StatusReply {
        session: s,
        job: None,
        last_summary: None,
        pending_removals: Vec::new(),
    };
    let text = status_text(&reply, T0, &UTC);
    assert!(
        text.contains("\nsource:      file bugs/1234.mp4\n"),
        "{text}"
    );
    assert!(
        text.contains("\nrange:       0s to 2m 30s of the file (2m 30s)\n"),
        "{text}"
    );
    assert!(text.contains("\nspeed:       1x (real time)\n"), "{text}");
    assert!(
        text.contains("\nclip mode:   copy (cross-device)\n"),
        "{text}"
    );
    for absent in ["linked:", "overrides:", "watch:", "warning:"] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }

    let mut s = ready_session();
    s.source = Some(SourceView {
        kind: "export".into(),
        export_id: Some("front_1795-ab".into()),
        path: Some("/srv/frigate/exports/front_1795-ab.mp4".into()),
    });
    let reply = StatusReply {
        session: s,
        job: None,
        last_summary: None,
        pending_removals: Vec::new(),
    };
    let text = status_text(&reply, T0, &UTC);
    assert!(
        text.contains("\nsource:      export front_1795-ab\n"),
        "{text}"
    );
}

#[test]
fn bytes_in_binary_units() {
    let cases = [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (10 * 1024 * 1024, "10 MiB"),
        (1_288_490_189, "1.2 GiB"),
        (u64::MAX, "16 EiB"),
    ];
    for (n, want) in cases {
        assert_eq!(human_bytes(n), want, "{n}");
    }
}

#[test]
fn the_stop_summary_shows_the_overrides() {
    let mut s = summary();
    s.overrides = Some(json!({"motion": {"threshold": 30}}));
    let text = summary_text(&s);
    assert!(
        text.ends_with("overrides:   motion.threshold: 30\n"),
        "{text}"
    );
    s.overrides = Some(json!({}));
    assert!(!summary_text(&s).contains("overrides"));
}

#[test]
fn update_replies() {
    let reply = UpdateReply {
        overrides: json!({"motion": {"threshold": 30}, "zones": {"yard": {"coordinates": "0,0,1.0,0,1.0,1.0"}}}),
        changed: vec!["motion".into()],
    };
    assert_eq!(
        update_text(&reply),
        "\
changed: motion
overrides now:
  motion:
    threshold: 30
  zones:
    yard:
      coordinates: 0,0,1.0,0,1.0,1.0
"
    );
    let reply = UpdateReply {
        overrides: json!({}),
        changed: vec![],
    };
    assert_eq!(
        update_text(&reply),
        "\
changed: nothing (the replay camera already ran these settings)
overrides now: none (the source camera's own settings)
"
    );
}

#[test]
fn apply_replies() {
    let change = |before, after| BeforeAfter { before, after };
    let mut reply = ApplyReply::default();
    reply.applied.insert(
        "motion".into(),
        [
            ("threshold".to_string(), change(json!(20), json!(30))),
            (
                "mask".to_string(),
                change(json!("0,0,1,0,1,1"), json!(null)),
            ),
        ]
        .into_iter()
        .collect(),
    );
    reply.applied.insert(
        "lpr".into(),
        [("min_area".to_string(), change(json!(null), json!(1500)))]
            .into_iter()
            .collect(),
    );
    reply.restart_needed = vec!["lpr".into()];
    assert_eq!(
        apply_text(&reply),
        "\
lpr:
  min_area: (unset) \u{2192} 1500
motion:
  mask: \"0,0,1,0,1,1\" \u{2192} (unset)
  threshold: 20 \u{2192} 30
restart needed: lpr (the NVR takes them at its next restart)
"
    );
    assert_eq!(
        apply_text(&ApplyReply::default()),
        "\
nothing applied (no overrides in those sections)
restart needed: no (the NVR took the changes live)
"
    );
}

#[test]
fn apply_preview_is_the_yaml_to_paste() {
    assert_eq!(
        apply_preview("front", &json!({"motion": {"threshold": 30}})),
        "cameras:\n  front:\n    motion:\n      threshold: 30\n"
    );
}
