use super::*;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// A NOTIFY_SOCKET in a temp folder, removed on drop.
struct FakeManager {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl FakeManager {
    fn bind(name: &str) -> FakeManager {
        let dir =
            std::env::temp_dir().join(format!("replayd-notify-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).expect("bind");
        FakeManager { dir, path, socket }
    }

    /// Every datagram queued so far.
    fn received(&self) -> Vec<String> {
        self.socket.set_nonblocking(true).expect("nonblocking");
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

impl Drop for FakeManager {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `f` under a watchdog: past `limit` the watchdog reads the manager's
/// queue (which releases a blocked send) and the test fails instead of
/// hanging.
fn within<T>(limit: Duration, manager: &FakeManager, f: impl FnOnce() -> T) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let fired = Arc::new(AtomicBool::new(false));
    let reader = manager.socket.try_clone().expect("clone");
    let watchdog = {
        let fired = Arc::clone(&fired);
        std::thread::spawn(move || {
            if finished.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            fired.store(true, Ordering::SeqCst);
            reader
                .set_read_timeout(Some(Duration::from_millis(10)))
                .expect("timeout");
            let mut buf = [0u8; 4096];
            while finished.try_recv() == Err(mpsc::TryRecvError::Empty) {
                let _ = reader.recv(&mut buf);
            }
        })
    };
    let out = f();
    let _ = done.send(());
    watchdog.join().expect("watchdog thread");
    assert!(
        !fired.load(Ordering::SeqCst),
        "blocked for more than {limit:?}: the watchdog had to read the queue"
    );
    out
}

#[test]
fn sends_never_block_when_the_manager_does_not_read() {
    let manager = FakeManager::bind("lag");
    let mut notifier = Notifier::for_socket(Some(manager.path.as_os_str()));
    within(Duration::from_secs(5), &manager, || {
        notifier.ready("idle");
        for i in 0..10_000 {
            notifier.status(&format!("replaying front ({i} s)"));
            if i % 100 == 0 {
                notifier.watchdog();
            }
        }
        notifier.stopping();
    });
    assert!(notifier.dropped() > 0, "the queue never filled");
    let received = manager.received();
    assert_eq!(
        received.first().map(String::as_str),
        Some("READY=1\nSTATUS=idle\n")
    );
    assert!(received.len() < 100, "{} datagrams queued", received.len());
}

#[test]
fn what_was_dropped_is_sent_again_once_the_manager_reads() {
    let manager = FakeManager::bind("retry");
    let mut notifier = Notifier::for_socket(Some(manager.path.as_os_str()));
    // Fill the queue, then drop a state change and a status.
    while notifier.dropped() == 0 {
        notifier.watchdog();
    }
    notifier.ready("ready");
    notifier.status("busy");
    assert!(notifier.dropped() >= 3);
    manager.received();
    // The loop's next report sends both.
    notifier.status("busy");
    let received = manager.received();
    assert_eq!(received, ["READY=1\nSTATUS=ready\n", "STATUS=busy\n"]);
    // Sent and unchanged: nothing more.
    notifier.status("busy");
    assert!(manager.received().is_empty());
}

#[test]
fn a_newline_in_a_status_cannot_add_an_assignment() {
    let manager = FakeManager::bind("newline");
    let mut notifier = Notifier::for_socket(Some(manager.path.as_os_str()));
    notifier.status("camera x\nREADY=1");
    assert_eq!(manager.received(), ["STATUS=camera x READY=1\n"]);
}

#[test]
fn abstract_and_missing_sockets() {
    let name = format!("replayd-notify-test-{}", std::process::id());
    let reader = UnixDatagram::bind_addr(
        &SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract addr"),
    )
    .expect("bind abstract");
    let mut notifier = Notifier::for_socket(Some(OsStr::from_bytes(format!("@{name}").as_bytes())));
    notifier.ready("up");
    let mut buf = [0u8; 64];
    let n = reader.recv(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"READY=1\nSTATUS=up\n");

    // Nobody bound there: counted, never fatal.
    let mut gone = Notifier::for_socket(Some(OsStr::new("/nonexistent/replayd/notify")));
    gone.ready("up");
    assert_eq!(gone.dropped(), 1);
    // Relative paths are not notify sockets; no socket means no-op.
    let mut relative = Notifier::for_socket(Some(OsStr::new("notify")));
    relative.ready("up");
    assert_eq!(relative.dropped(), 0);
    let mut none = Notifier::for_socket(None);
    none.status("x");
    assert_eq!(none.dropped(), 0);
}
