use super::*;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// A temp folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "replayd-media-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

/// Runs `f` on this thread under a watchdog: past `limit` the watchdog opens
/// `fifo` for writing, which releases an `open()` blocked on it, and the
/// test fails instead of hanging.
fn within<T>(limit: Duration, fifo: &Path, f: impl FnOnce() -> T) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let fired = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let fired = Arc::clone(&fired);
        let fifo = fifo.to_path_buf();
        std::thread::spawn(move || {
            if finished.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            fired.store(true, Ordering::SeqCst);
            while finished.recv_timeout(Duration::from_millis(10))
                == Err(mpsc::RecvTimeoutError::Timeout)
            {
                let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
                drop(rustix::fs::open(&fifo, flags, Mode::empty()));
            }
        })
    };
    let out = f();
    let _ = done.send(());
    watchdog.join().expect("watchdog thread");
    assert!(
        !fired.load(Ordering::SeqCst),
        "blocked for more than {limit:?}: the watchdog had to open the FIFO for writing"
    );
    out
}

#[test]
fn a_fifo_is_refused_at_once() {
    let dir = TempDir::new();
    let fifo = dir.join("seg.mp4");
    mkfifo(&fifo);
    let result = within(Duration::from_secs(5), &fifo, || {
        open_segment(&dir.0, &fifo)
    });
    match result {
        Err(SegmentError::NotRegular { path, kind }) => {
            assert_eq!((path, kind), (fifo, "a FIFO"));
        }
        other => panic!("a FIFO must be refused as not regular: {other:?}"),
    }
}

#[test]
fn a_segment_swapped_for_a_fifo_never_blocks() {
    // The attack: a recordings row's file is flipped between a segment and
    // a FIFO while the daemon opens it.
    let dir = TempDir::new();
    let segment = dir.join("seg.mp4");
    let fifo = dir.join("fifo");
    let file = dir.join("file");
    mkfifo(&fifo);
    std::fs::write(&file, b"not really an mp4").expect("write");
    std::fs::hard_link(&file, &segment).expect("link");
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, dir_fifo, dir_file) = (Arc::clone(&stop), fifo.clone(), file.clone());
        let (segment, tmp) = (segment.clone(), dir.join("tmp"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for source in [&dir_fifo, &dir_file] {
                    let _ = std::fs::hard_link(source, &tmp);
                    let _ = std::fs::rename(&tmp, &segment);
                }
            }
        })
    };
    let (mut regular, mut fifos) = (0u32, 0u32);
    within(Duration::from_secs(5), &fifo, || {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(1) {
            match open_segment(&dir.0, &segment) {
                Ok((_, size)) => {
                    assert_eq!(size, 17);
                    regular += 1;
                }
                Err(SegmentError::NotRegular { kind, .. }) => {
                    assert_eq!(kind, "a FIFO");
                    fifos += 1;
                }
                Err(e) => panic!("unexpected: {e}"),
            }
        }
    });
    stop.store(true, Ordering::Relaxed);
    flipper.join().expect("flipper");
    println!("opened {regular} times as a file, refused {fifos} times as a FIFO");
    assert!(regular > 0 && fifos > 0, "the race was not exercised");
}

#[test]
fn symlinks_are_refused_whatever_they_point_at() {
    let dir = TempDir::new();
    let file = dir.join("real.mp4");
    std::fs::write(&file, b"data").expect("write");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    for (name, target) in [
        ("to-file.mp4", file.clone()),
        ("to-fifo.mp4", fifo.clone()),
        ("dangling.mp4", dir.join("absent")),
    ] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let result = within(Duration::from_secs(5), &fifo, || {
            open_segment(&dir.0, &link)
        });
        assert!(
            matches!(&result, Err(SegmentError::Symlink { path }) if *path == link),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn a_linked_folder_inside_the_root_is_followed_and_the_roots_own_path_too() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.join("disk/real")).expect("mkdir");
    std::fs::write(dir.join("disk/real/seg.mp4"), b"data").expect("write");
    // A relative link that stays inside the root.
    std::os::unix::fs::symlink("real", dir.join("disk/media")).expect("symlink");
    // The root itself reached through a link (a mount point, a share).
    std::os::unix::fs::symlink(dir.join("disk"), dir.join("root")).expect("symlink");
    let root = dir.join("root");
    let (_, size) =
        open_segment(&root, &root.join("media/seg.mp4")).expect("open through a linked folder");
    assert_eq!(size, 4);
    // An absolute link is refused even when it points inside: the kernel
    // cannot tell where it leads without leaving the root.
    std::os::unix::fs::symlink(dir.join("disk/real"), dir.join("disk/absolute")).expect("symlink");
    assert!(matches!(
        open_segment(&root, &root.join("absolute/seg.mp4")),
        Err(SegmentError::Outside { .. })
    ));
}

#[test]
fn a_linked_folder_that_leads_out_of_the_root_is_refused() {
    // The NVR's tree with a day folder swapped for a link to elsewhere:
    // the segment path looks like the media root's, the file is not.
    let dir = TempDir::new();
    let root = dir.join("media");
    std::fs::create_dir_all(root.join("recordings")).expect("mkdir");
    std::fs::create_dir(dir.join("elsewhere")).expect("mkdir");
    std::fs::write(dir.join("elsewhere/secret.mp4"), b"not footage").expect("write");
    std::os::unix::fs::symlink(dir.join("elsewhere"), root.join("recordings/2026-12-02"))
        .expect("symlink");
    let path = root.join("recordings/2026-12-02/secret.mp4");
    let result = open_segment(&root, &path);
    assert!(
        matches!(&result, Err(SegmentError::Outside { path: p, root: r }) if *p == path && *r == root),
        "{result:?}"
    );
    assert!(result.unwrap_err().to_string().contains("leads out of"));
    // A relative link that climbs out is refused too.
    std::os::unix::fs::symlink("../../elsewhere", root.join("recordings/up")).expect("symlink");
    assert!(matches!(
        open_segment(&root, &root.join("recordings/up/secret.mp4")),
        Err(SegmentError::Outside { .. })
    ));
    // A path that is not under the root at all.
    assert!(matches!(
        open_segment(&root, &dir.join("elsewhere/secret.mp4")),
        Err(SegmentError::Outside { .. })
    ));
}

#[test]
fn a_regular_file_opens_blocking_and_close_on_exec() {
    let dir = TempDir::new();
    let path = dir.join("seg.mp4");
    std::fs::write(&path, b"0123456789").expect("write");
    let (mut file, size) = open_segment(&dir.0, &path).expect("open");
    assert_eq!(size, 10);
    let flags = rustix::fs::fcntl_getfl(&file).expect("getfl");
    assert!(!flags.contains(OFlags::NONBLOCK), "{flags:?}");
    let fd_flags = rustix::io::fcntl_getfd(&file).expect("getfd");
    assert!(fd_flags.contains(rustix::io::FdFlags::CLOEXEC));
    let mut text = String::new();
    file.read_to_string(&mut text).expect("read");
    assert_eq!(text, "0123456789");
}

#[test]
fn missing_empty_and_directory_are_told_apart() {
    let dir = TempDir::new();
    let empty = dir.join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    assert!(matches!(
        open_segment(&dir.0, &dir.join("absent.mp4")),
        Err(SegmentError::NotFound { .. })
    ));
    assert!(matches!(
        open_segment(&dir.0, &empty),
        Err(SegmentError::Empty { .. })
    ));
    std::fs::create_dir(dir.join("folder.mp4")).expect("mkdir");
    let err = open_segment(&dir.0, &dir.join("folder.mp4")).expect_err("a directory is refused");
    assert!(
        matches!(
            err,
            SegmentError::NotRegular {
                kind: "a directory",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
