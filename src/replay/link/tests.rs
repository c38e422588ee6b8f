use std::path::{Path, PathBuf};

use super::*;
use crate::replay::clip::{self, Segment};

fn plan(n: usize, start: f64, end: f64) -> ClipPlan {
    let segs: Vec<Segment> = (0..n)
        .map(|i| Segment {
            path: PathBuf::from(format!("/m/recordings/{i}.mp4")),
            start_time: 10.0 * i as f64,
            end_time: 10.0 * (i + 1) as f64,
        })
        .collect();
    clip::plan(&segs, start, end)
}

#[test]
fn link_names_are_six_digits_in_plan_order() {
    assert_eq!(link_name(0), "000000.mp4");
    assert_eq!(link_name(2159), "002159.mp4");
    assert_eq!(link_name(1_234_567), "1234567.mp4");
    assert!(is_link_name("000042.mp4"));
    assert!(!is_link_name("42.mp4"));
    assert!(!is_link_name("../00000.mp4"));
    assert!(!is_link_name("000000.mp4.part"));
    assert!(!is_link_name("00000a.mp4"));
}

#[test]
fn the_playlist_plays_what_copy_mode_cuts() {
    let plan = plan(3, 1.5, 24.0);
    let text = playlist(&plan, &[]);
    assert_eq!(
        text,
        "ffconcat version 1.0\n\
         file 000000.mp4\nduration 8.500000\ninpoint 1.500000\n\
         file 000001.mp4\nduration 10.000000\n\
         file 000002.mp4\nduration 4.000000\noutpoint 4.000000\n"
    );
    // The same in/outpoints as the copy mode's concat list.
    let list = String::from_utf8(clip::concat_list(&plan).unwrap()).unwrap();
    assert!(list.contains("inpoint 1.500000\n"), "{list}");
    assert!(list.contains("outpoint 4.000000\n"), "{list}");
}

#[test]
fn a_skipped_entry_leaves_the_playlist_and_the_others_keep_their_names() {
    let plan = plan(3, 1.5, 24.0);
    // The first (with the inpoint) gone: the next plays whole.
    assert_eq!(
        playlist(&plan, &[0]),
        "ffconcat version 1.0\n\
         file 000001.mp4\nduration 10.000000\n\
         file 000002.mp4\nduration 4.000000\noutpoint 4.000000\n"
    );
    assert_eq!(
        playlist(&plan, &[1]),
        "ffconcat version 1.0\n\
         file 000000.mp4\nduration 8.500000\ninpoint 1.500000\n\
         file 000002.mp4\nduration 4.000000\noutpoint 4.000000\n"
    );
}

#[test]
fn the_playlist_holds_only_safe_relative_names_and_no_option() {
    let text = playlist(&plan(40, 0.0, 400.0), &[]);
    for line in text.lines().skip(1) {
        let (directive, value) = line.split_once(' ').unwrap();
        assert_ne!(directive, "option", "safe mode refuses options");
        if directive == "file" {
            assert!(value
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'.'));
        }
    }
}

#[test]
fn a_whole_file_is_one_entry_without_in_or_outpoint() {
    let plan = clip::plan_whole_file(Path::new("/m/exports/a.mp4"), 42.25);
    assert_eq!(
        playlist(&plan, &[]),
        "ffconcat version 1.0\nfile 000000.mp4\nduration 42.250000\n"
    );
}

#[test]
fn playlist_names_reads_back_only_what_replayd_writes() {
    let text = playlist(&plan(3, 1.0, 25.0), &[]);
    assert_eq!(
        playlist_names(&text),
        Some(vec!["000000.mp4", "000001.mp4", "000002.mp4"])
    );
    assert_eq!(playlist_names(""), None);
    assert_eq!(playlist_names("ffconcat version 1.0\n"), None);
    assert_eq!(
        playlist_names("ffconcat version 1.0\nfile /etc/passwd\n"),
        None
    );
    assert_eq!(
        playlist_names("ffconcat version 1.0\nfile 000000.mp4\noption x y\n"),
        None
    );
    assert_eq!(playlist_names("file 000000.mp4\n"), None);
}

const FACTS: FileFacts = FileFacts {
    dev: 7,
    ino: 1,
    uid: 0,
    mode: 0o100644,
    writable: false,
};

fn host(euid: u32, protected: bool) -> LinkHost<'static> {
    LinkHost {
        replay_dir: Path::new("/m/replayd"),
        replay_dev: 7,
        euid,
        protected_hardlinks: protected,
    }
}

#[test]
fn another_file_system_is_cross_device() {
    let facts = FileFacts { dev: 8, ..FACTS };
    let why = linkable(Path::new("/m/r/a.mp4"), &facts, &host(0, true)).unwrap_err();
    assert_eq!(
        why,
        "cross-device: /m/r/a.mp4 is on another file system than the replay dir /m/replayd"
    );
    // Whatever else would allow it.
    assert!(linkable(Path::new("/x"), &facts, &host(0, false)).is_err());
}

#[test]
fn protected_hardlinks_needs_the_owner_or_read_write_access() {
    let path = Path::new("/m/r/a.mp4");
    // Owner: always.
    assert_eq!(linkable(path, &FACTS, &host(0, true)), Ok(()));
    // Someone else's, not writable.
    let why = linkable(path, &FACTS, &host(999, true)).unwrap_err();
    assert_eq!(
        why,
        "protected_hardlinks: /m/r/a.mp4 is owned by uid 0, not writable by replayd (uid 999)"
    );
    // Writable (group write): allowed.
    let writable = FileFacts {
        writable: true,
        mode: 0o100664,
        ..FACTS
    };
    assert_eq!(linkable(path, &writable, &host(999, true)), Ok(()));
    // Not for set-uid or executable set-gid files.
    for mode in [0o104664, 0o102674] {
        let setid = FileFacts { mode, ..writable };
        assert!(
            linkable(path, &setid, &host(999, true)).is_err(),
            "{mode:o}"
        );
    }
    // Set-gid without group exec is not special.
    let sgid = FileFacts {
        mode: 0o102664,
        ..writable
    };
    assert_eq!(linkable(path, &sgid, &host(999, true)), Ok(()));
    // Without the sysctl anything on the file system goes.
    assert_eq!(linkable(path, &FACTS, &host(999, false)), Ok(()));
}

#[test]
fn all_linkable_names_the_first_file_that_is_not() {
    let a = PathBuf::from("/m/a.mp4");
    let b = PathBuf::from("/m/b.mp4");
    let c = PathBuf::from("/m/c.mp4");
    let files = vec![
        (a.as_path(), FACTS),
        (b.as_path(), FileFacts { dev: 9, ..FACTS }),
        (c.as_path(), FileFacts { dev: 10, ..FACTS }),
    ];
    let why = all_linkable(files, &host(0, true)).unwrap_err();
    assert!(why.contains("/m/b.mp4"), "{why}");
    assert_eq!(
        all_linkable(vec![(a.as_path(), FACTS)], &host(0, true)),
        Ok(())
    );
}

#[test]
fn the_mode_is_the_request_against_what_is_possible() {
    let no = || Err("cross-device: x".to_string());
    assert_eq!(
        choose(ClipMode::Auto, Ok(())),
        Ok(ModeChoice {
            mode: Mode::Link,
            reason: None,
            forced: false
        })
    );
    assert_eq!(
        choose(ClipMode::Auto, no()),
        Ok(ModeChoice {
            mode: Mode::Copy,
            reason: Some("cross-device: x".into()),
            forced: false
        })
    );
    assert_eq!(
        choose(ClipMode::Link, Ok(())),
        Ok(ModeChoice {
            mode: Mode::Link,
            reason: None,
            forced: true
        })
    );
    assert_eq!(
        choose(ClipMode::Link, no()),
        Err("clip_mode link is not possible: cross-device: x".into())
    );
    for feasible in [Ok(()), no()] {
        assert_eq!(
            choose(ClipMode::Copy, feasible),
            Ok(ModeChoice {
                mode: Mode::Copy,
                reason: Some("clip_mode copy".into()),
                forced: true
            })
        );
    }
}

#[test]
fn a_session_json_without_a_mode_is_copy() {
    assert_eq!(Mode::default(), Mode::Copy);
    assert_eq!(serde_json::to_string(&Mode::Link).unwrap(), "\"link\"");
}
