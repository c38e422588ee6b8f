//! Part 5 of the bench, boot cleanup scaling: exec → READY=1 (boot cleanup
//! runs before READY) with 0 or 100,000 ordinary recording files and 0 or
//! 1,000 files of stale replay cameras.

use crate::common::root::{segment_rel_path, BASE_TIME};
use crate::common::TestRoot;
use crate::launch::Launched;
use crate::media::bench_root;
use crate::stats::secs;
use std::fs;
use std::path::Path;
use std::time::Instant;

pub const ORDINARY_FILES: usize = 100_000;
pub const ARTIFACT_FILES: usize = 1_000;
/// The stale replay cameras the artifacts belong to (250 files each).
const STALE: [&str; 4] = ["_replay_front", "_replay_back", "_replay_x", "_replay_yard"];

pub struct Scenario {
    pub ordinary: usize,
    pub artifacts: usize,
    pub ready: Vec<f64>,
}

pub struct Boot {
    pub scenarios: Vec<Scenario>,
    /// Removing the same 1,000 planted files by hand (`remove_dir_all`,
    /// `remove_file`), synced first like before each boot: the floor.
    pub by_hand: Vec<f64>,
    /// Time to create the 100,000 ordinary files (setup, not measured).
    pub setup_secs: f64,
}

/// `count` empty segment files of camera `front`, 10 s apart, in Frigate's
/// `recordings/<camera>/<date>/<hour>/<MM>.<SS>.mp4` layout.
fn plant_ordinary(media: &Path, count: usize) {
    let base = media.join("recordings/front");
    let mut last_dir = None;
    for i in 0..count {
        let path = base.join(segment_rel_path(BASE_TIME + i as f64 * 10.0));
        let dir = path.parent().unwrap().to_path_buf();
        if last_dir.as_ref() != Some(&dir) {
            fs::create_dir_all(&dir).expect("recordings dir");
            last_dir = Some(dir);
        }
        fs::File::create(&path).expect("recording file");
    }
}

/// 250 files for each stale camera, at every place cleanup looks.
fn plant_artifacts(root: &TestRoot) {
    let media = &root.media();
    let mut n = 0;
    let mut put = |rel: String| {
        let p = media.join(rel);
        fs::create_dir_all(p.parent().unwrap()).expect("artifact dir");
        fs::write(&p, b"stale replay artifact").expect("artifact file");
        n += 1;
    };
    for cam in STALE {
        let now = 1_800_000_000.0;
        for i in 0..200 {
            put(format!(
                "recordings/{cam}/{}",
                segment_rel_path(now + i as f64 * 10.0).display()
            ));
        }
        let id = |i: usize| format!("{:.6}-s{i:04}", now + i as f64 * 5.0);
        for i in 0..20 {
            put(format!("clips/thumbs/{cam}/{}.webp", id(i)));
        }
        for i in 0..15 {
            put(format!("clips/{cam}-{}.jpg", id(i)));
        }
        for i in 0..10 {
            put(format!("clips/review/thumb-{cam}-{}.webp", id(i)));
        }
        for i in 0..4 {
            let t = now + i as f64 * 3600.0;
            put(format!("clips/previews/{cam}/{t:.6}-{:.6}.mp4", t + 3600.0));
        }
        put(format!("replayd/{cam}/clip.mp4"));
    }
    assert_eq!(n, ARTIFACT_FILES);
    // What a dead replayd leaves names them in its ledger (SPEC §1): boot
    // cleanup removes what the ledger names, nothing else.
    let _ = fs::remove_file(root.ledger_path());
    for cam in STALE {
        root.record_in_ledger(cam);
    }
}

/// The plain way to delete what `plant_artifacts` made.
fn remove_by_hand(media: &Path) -> f64 {
    let started = Instant::now();
    for cam in STALE {
        for dir in ["recordings", "clips", "clips/thumbs", "clips/previews"] {
            let _ = fs::remove_dir_all(media.join(dir).join(cam));
        }
        let _ = fs::remove_dir_all(media.join(format!("replayd/{cam}")));
    }
    for dir in ["clips", "clips/review"] {
        for entry in fs::read_dir(media.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let rest = name.strip_prefix("thumb-").unwrap_or(&name);
            if STALE.iter().any(|c| rest.starts_with(&format!("{c}-")))
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    secs(started.elapsed())
}

fn artifacts_left(media: &Path) -> usize {
    STALE
        .iter()
        .filter(|cam| {
            media.join(format!("recordings/{cam}")).exists()
                || media.join(format!("clips/thumbs/{cam}")).exists()
                || media.join(format!("replayd/{cam}/clip.mp4")).exists()
        })
        .count()
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

pub fn run(reps: usize) -> Boot {
    let empty_root = bench_root();
    let full_root = bench_root();
    let (empty, full) = (&empty_root.root, &full_root.root);
    let t = Instant::now();
    plant_ordinary(&full.media(), ORDINARY_FILES);
    let setup_secs = secs(t.elapsed());
    eprintln!(
        "bench: planted {ORDINARY_FILES} recording files in {setup_secs:.1} s; {reps} reps of 4 boots"
    );
    let mut scenarios: Vec<Scenario> = [
        (0, 0),
        (ORDINARY_FILES, 0),
        (0, ARTIFACT_FILES),
        (ORDINARY_FILES, ARTIFACT_FILES),
    ]
    .iter()
    .map(|&(ordinary, artifacts)| Scenario {
        ordinary,
        artifacts,
        ready: Vec::new(),
    })
    .collect();
    // One untimed boot of each root: page cache and dentries warm.
    drop(Launched::start(empty));
    drop(Launched::start(full));
    let mut by_hand = Vec::with_capacity(reps);
    for _ in 0..reps {
        plant_artifacts(empty);
        crate::clip::settle();
        by_hand.push(remove_by_hand(&empty.media()));
        assert_eq!(
            artifacts_left(&empty.media()),
            0,
            "by-hand removal missed files"
        );
        for s in &mut scenarios {
            let root = if s.ordinary > 0 { full } else { empty };
            if s.artifacts > 0 {
                plant_artifacts(root);
            }
            crate::clip::settle();
            let mut d = Launched::start(root);
            s.ready.push(secs(d.ready_after));
            d.stop();
            assert_eq!(
                artifacts_left(&root.media()),
                0,
                "boot cleanup left stale replay cameras behind; log: {}",
                root.log_path().display()
            );
        }
    }
    let kept = count_files(&full.media().join("recordings/front"));
    assert_eq!(kept, ORDINARY_FILES, "boot cleanup touched ordinary files");
    Boot {
        scenarios,
        by_hand,
        setup_secs,
    }
}
