use super::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicU32, Ordering};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "replayd-cleanup-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn media(&self) -> PathBuf {
        self.0.join("media")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, b"x").unwrap();
}

/// A camera's full set of media: 4 recordings, 4 under the camera dirs,
/// 3 snapshots, 1 review thumbnail.
fn plant_camera(root: &Path, cam: &str) {
    touch(
        root,
        &format!("recordings/{cam}/2024-01-01/10/{cam}/00.00.mp4"),
    );
    touch(
        root,
        &format!("recordings/{cam}/2024-01-01/10/{cam}/00.10.mp4"),
    );
    touch(
        root,
        &format!("recordings/{cam}/2024-01-01/11/{cam}/00.00.mp4"),
    );
    touch(
        root,
        &format!("recordings/{cam}/2024-01-02/00/{cam}/00.00.mp4"),
    );
    touch(root, &format!("clips/{cam}/a.jpg"));
    touch(root, &format!("clips/thumbs/{cam}/1700000000.1-abc.webp"));
    touch(
        root,
        &format!("clips/previews/{cam}/1700000000.1-1700000060.0.mp4"),
    );
    touch(root, &format!("clips/previews/{cam}/x/y.mp4"));
    touch(root, &format!("clips/{cam}-1700000000.123456-abc123.jpg"));
    touch(
        root,
        &format!("clips/{cam}-1700000000.123456-abc123-clean.webp"),
    );
    touch(
        root,
        &format!("clips/{cam}-1700000000.123456-abc123-clean.png"),
    );
    touch(
        root,
        &format!("clips/review/thumb-{cam}-1700000000.5-xyz987.webp"),
    );
}

const PER_CAMERA: u64 = 12;

fn all_files(root: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

#[test]
fn removes_exactly_the_cameras_files() {
    let t = TempDir::new();
    let m = t.media();
    let neighbours = [
        "_replay_front-door",
        "_replay_front_door-yard",
        "_replay_front_door",
        "front",
    ];
    for cam in neighbours {
        plant_camera(&m, cam);
    }
    let before = all_files(&m);
    plant_camera(&m, "_replay_front");
    // Not a snapshot of _replay_front: no digit after "<cam>-", other
    // extensions, or a directory with a snapshot-like name.
    touch(&m, "clips/_replay_front-door-1700.jpg");
    touch(&m, "clips/_replay_front-x1700.jpg");
    touch(&m, "clips/_replay_front-1700.webp");
    touch(&m, "clips/_replay_front.jpg");
    touch(&m, "clips/_replay_front1700.jpg");
    touch(&m, "clips/review/thumb-_replay_front-door-1700.webp");
    touch(&m, "clips/review/thumb-_replay_front-1700.jpg");
    touch(&m, "clips/_replay_front-1700-dir.jpg/inner");
    touch(&m, "clips/replay/_replay_front.mp4");
    let keep = all_files(&m)
        .into_iter()
        .filter(|f| !before.contains(f))
        .filter(|f| {
            !f.starts_with("recordings/_replay_front/")
                && !f.starts_with("clips/_replay_front/")
                && !f.starts_with("clips/thumbs/_replay_front/")
                && !f.starts_with("clips/previews/_replay_front/")
                && !f.contains("-1700000000.")
        })
        .collect::<BTreeSet<_>>();
    assert_eq!(keep.len(), 9, "{keep:?}");

    assert_eq!(remove_files(&m, "_replay_front").unwrap(), PER_CAMERA);
    let after = all_files(&m);
    let expected: BTreeSet<String> = before.union(&keep).cloned().collect();
    assert_eq!(after, expected);
    for d in ["recordings", "clips", "clips/thumbs", "clips/previews"] {
        assert!(!m.join(d).join("_replay_front").exists(), "{d}");
    }
    // Idempotent.
    assert_eq!(remove_files(&m, "_replay_front").unwrap(), 0);
    assert_eq!(all_files(&m), expected);
}

#[test]
fn underscore_neighbour_is_not_a_prefix_match() {
    let t = TempDir::new();
    let m = t.media();
    plant_camera(&m, "_replay_front_door-yard");
    plant_camera(&m, "_replay_front_door");
    let yard: BTreeSet<String> = all_files(&m)
        .into_iter()
        .filter(|f| f.contains("_replay_front_door-yard"))
        .collect();
    assert_eq!(remove_files(&m, "_replay_front_door").unwrap(), PER_CAMERA);
    assert_eq!(all_files(&m), yard);
}

#[test]
fn digit_rule() {
    assert!(is_snapshot_of(
        "_replay_front-1700000000.1-abc.jpg",
        "_replay_front"
    ));
    assert!(is_snapshot_of(
        "_replay_front-1-clean.webp",
        "_replay_front"
    ));
    assert!(is_snapshot_of("_replay_front-9-clean.png", "_replay_front"));
    assert!(!is_snapshot_of(
        "_replay_front-door-1700.jpg",
        "_replay_front"
    ));
    assert!(!is_snapshot_of("_replay_front--1700.jpg", "_replay_front"));
    assert!(!is_snapshot_of("_replay_front-.jpg", "_replay_front"));
    assert!(!is_snapshot_of("_replay_front-1700.webp", "_replay_front"));
    assert!(!is_snapshot_of(
        "_replay_front-1700-clean.jpeg",
        "_replay_front"
    ));
    assert!(!is_snapshot_of(
        "_replay_front_door-1700.jpg",
        "_replay_front"
    ));
    assert!(is_review_thumb_of(
        "thumb-_replay_front-1700.1-a.webp",
        "_replay_front"
    ));
    assert!(!is_review_thumb_of(
        "thumb-_replay_front-door-1700.webp",
        "_replay_front"
    ));
    assert!(!is_review_thumb_of(
        "_replay_front-1700.webp",
        "_replay_front"
    ));
}

#[test]
fn spared_cameras_keep_their_snapshots() {
    let t = TempDir::new();
    let m = t.media();
    plant_camera(&m, "_replay_front");
    plant_camera(&m, "_replay_front-2");
    let other: BTreeSet<String> = all_files(&m)
        .into_iter()
        .filter(|f| f.contains("_replay_front-2"))
        .collect();
    let err =
        remove_camera_files_sparing(&m, "_replay_front", &["_replay_front-2", "_replay_front"])
            .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(all_files(&m).len() as u64, 2 * PER_CAMERA);
    let r =
        remove_camera_files_sparing(&m, "_replay_front", &["_replay_front-2", "front"]).unwrap();
    assert_eq!(r.files, PER_CAMERA);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(all_files(&m), other);
}

#[test]
fn planted_symlink_to_outside_dir_is_not_followed() {
    let t = TempDir::new();
    let m = t.media();
    let outside = t.0.join("outside");
    touch(&outside, "precious.mp4");
    touch(&outside, "sub/precious.jpg");
    plant_camera(&m, "_replay_front");
    symlink(&outside, m.join("recordings/_replay_front/2024-01-01/link")).unwrap();
    symlink(&outside, m.join("clips/previews/_replay_front/link")).unwrap();
    symlink(
        outside.join("precious.mp4"),
        m.join("clips/_replay_front/file-link.mp4"),
    )
    .unwrap();
    assert_eq!(remove_files(&m, "_replay_front").unwrap(), PER_CAMERA + 3);
    assert_eq!(
        all_files(&outside),
        BTreeSet::from(["precious.mp4".into(), "sub/precious.jpg".into()])
    );
    assert!(!m.join("recordings/_replay_front").exists());
}

#[test]
fn symlinked_camera_dir_is_removed_as_a_link() {
    let t = TempDir::new();
    let m = t.media();
    let outside = t.0.join("outside");
    touch(&outside, "2024-01-01/10/a.mp4");
    fs::create_dir_all(m.join("recordings")).unwrap();
    fs::create_dir_all(m.join("clips/thumbs")).unwrap();
    symlink(&outside, m.join("recordings/_replay_front")).unwrap();
    symlink(&outside, m.join("clips/thumbs/_replay_front")).unwrap();
    assert_eq!(remove_files(&m, "_replay_front").unwrap(), 2);
    assert!(fs::symlink_metadata(m.join("recordings/_replay_front")).is_err());
    assert!(fs::symlink_metadata(m.join("clips/thumbs/_replay_front")).is_err());
    assert_eq!(
        all_files(&outside),
        BTreeSet::from(["2024-01-01/10/a.mp4".into()])
    );
}

#[test]
fn symlinked_media_subdir_is_not_entered() {
    let t = TempDir::new();
    let m = t.media();
    let outside = t.0.join("outside");
    plant_camera(&outside, "_replay_front");
    let planted = all_files(&outside);
    fs::create_dir_all(&m).unwrap();
    symlink(outside.join("clips"), m.join("clips")).unwrap();
    symlink(outside.join("recordings"), m.join("recordings")).unwrap();
    let r = remove_camera_files_sparing(&m, "_replay_front", &[] as &[&str]).unwrap();
    assert_eq!(r.files, 0);
    assert_eq!(r.failures.len(), 2, "{:?}", r.failures);
    assert_eq!(all_files(&outside), planted);
    assert_eq!(remove_files(&m, "_replay_front").unwrap(), 0);
}

#[test]
fn media_root_may_itself_be_a_symlink() {
    let t = TempDir::new();
    let real = t.0.join("disk");
    plant_camera(&real, "_replay_front");
    symlink(&real, t.media()).unwrap();
    assert_eq!(
        remove_files(&t.media(), "_replay_front").unwrap(),
        PER_CAMERA
    );
}

#[test]
fn missing_paths_are_fine() {
    let t = TempDir::new();
    assert_eq!(remove_files(&t.media(), "_replay_front").unwrap(), 0);
    fs::create_dir_all(t.media().join("clips")).unwrap();
    assert_eq!(remove_files(&t.media(), "_replay_front").unwrap(), 0);
    assert_eq!(
        remove_files(&t.0.join("nothing"), "_replay_front").unwrap(),
        0
    );
}

#[test]
fn refuses_names_without_the_prefix_or_with_path_characters() {
    let t = TempDir::new();
    let m = t.media();
    plant_camera(&m, "front");
    let before = all_files(&m);
    for name in [
        "front",
        "",
        "_replay_",
        "_replay_../front",
        "_replay_a/b",
        "..",
        "_replay_.",
        "replay_front",
        "_REPLAY_front",
        "_replay_fr\0nt",
        "_replay_front ",
    ] {
        let err = remove_files(&m, name).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
    }
    assert_eq!(all_files(&m), before);
}

/// The whole cleanup with nothing to spare, its failures ignored.
fn remove_files(media_root: &Path, camera: &str) -> io::Result<u64> {
    remove_camera_files_sparing(media_root, camera, &[] as &[&str]).map(|r| r.files)
}
