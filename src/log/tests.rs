use super::*;
use std::os::unix::net::UnixDatagram;

#[test]
fn priorities() {
    let cases = [
        (Level::Error, 3),
        (Level::Warn, 4),
        (Level::Info, 6),
        (Level::Debug, 7),
        (Level::Trace, 7),
    ];
    for (level, prio) in cases {
        assert_eq!(priority(level), prio, "{level}");
    }
}

#[test]
fn sink_choice() {
    use LogTarget::*;
    // (target, journal, tty, dev_log, expected)
    let cases = [
        (Auto, true, false, true, Sink::Journal),
        (Auto, true, true, true, Sink::Journal),
        (Auto, false, true, true, Sink::Stderr),
        (Auto, false, false, true, Sink::Syslog),
        (Auto, false, false, false, Sink::Stderr),
        (Auto, false, true, false, Sink::Stderr),
        (Journal, false, true, false, Sink::Journal),
        (Syslog, true, true, false, Sink::Syslog),
        (Stderr, true, false, true, Sink::Stderr),
    ];
    for (target, journal, tty, dev_log, expected) in cases {
        assert_eq!(
            choose_sink(target, journal, tty, dev_log),
            expected,
            "{target:?} journal={journal} tty={tty} dev_log={dev_log}"
        );
    }
}

#[test]
fn journal_stream() {
    let cases = [
        ("8:12345", 8, 12345, true),
        (" 8:12345\n", 8, 12345, true),
        ("8:12345", 8, 12346, false),
        ("9:12345", 8, 12345, false),
        ("", 8, 12345, false),
        ("8", 8, 12345, false),
        ("8:", 8, 12345, false),
        (":12345", 8, 12345, false),
        ("8:12345:1", 8, 12345, false),
        ("x:y", 8, 12345, false),
        ("-8:12345", 8, 12345, false),
        ("18446744073709551615:1", u64::MAX, 1, true),
    ];
    for (value, dev, ino, expected) in cases {
        assert_eq!(
            journal_stream_matches(value, dev, ino),
            expected,
            "{value:?}"
        );
    }
}

#[test]
fn lines() {
    let cases = [
        (Level::Info, "started", "<6>started\n", "INFO started\n"),
        (Level::Error, "a\nb", "<3>a\\nb\n", "ERROR a\\nb\n"),
        (
            Level::Warn,
            "x\r\ny\n",
            "<4>x\\r\\ny\\n\n",
            "WARN x\\r\\ny\\n\n",
        ),
        (Level::Debug, "", "<7>\n", "DEBUG \n"),
        (
            Level::Trace,
            "tab\tkept",
            "<7>tab\tkept\n",
            "TRACE tab\tkept\n",
        ),
    ];
    for (level, message, journal, plain) in cases {
        assert_eq!(journal_line(level, message), journal, "{message:?}");
        assert_eq!(stderr_line(level, message), plain, "{message:?}");
    }
}

#[test]
fn escape_borrows_when_clean() {
    assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    assert_eq!(escape("a\nb"), "a\\nb");
}

#[test]
fn truncation_respects_char_boundaries() {
    assert_eq!(truncate("abc", 5), "abc");
    assert_eq!(truncate("abcdef", 3), "abc");
    assert_eq!(truncate("aé", 2), "a");
    assert_eq!(truncate("", 0), "");
}

fn read_all(fd: &std::os::fd::OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, PollTimeout::ZERO).unwrap() == 0 {
            break;
        }
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8(out).unwrap()
}

/// Fills the reader's side, checks nothing blocks, then drains and checks
/// that every record that did arrive is whole and the loss is reported.
fn check_full_reader(
    style: Sink,
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
    is_socket: bool,
) {
    let mut out = StderrOutput::new(style, Box::new(write), is_socket);
    let started = Instant::now();
    let long = "y".repeat(10_000);
    for i in 0..3000 {
        let message = if i % 7 == 0 {
            format!("{i} {long}")
        } else {
            format!("line {i}\nmore")
        };
        out.log(Level::Info, &message);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.dropped > 0);
    let first = read_all(&read);
    out.log(Level::Error, "after");
    let second = read_all(&read);
    let all = first + &second;
    let prefix = if style == Sink::Journal {
        "<6>"
    } else {
        "INFO "
    };
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines.len() > 3);
    for line in &lines[..lines.len() - 2] {
        // A line cut short by a full reader ends there; the next record starts fresh.
        assert!(
            line.starts_with(prefix),
            "{:?}",
            &line[..line.len().min(40)]
        );
    }
    let notice = lines[lines.len() - 2];
    assert!(notice.contains("log line(s) dropped"), "{notice}");
    let last = lines[lines.len() - 1];
    assert!(last == "<3>after" || last == "ERROR after", "{last}");
    assert_eq!(out.dropped, 0);
}

#[test]
fn stderr_pipe_never_blocks() {
    let (read, write) = nix::unistd::pipe().unwrap();
    check_full_reader(Sink::Stderr, read, write, false);
}

#[test]
fn journal_stream_socket_never_blocks() {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (read, write) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::empty(),
    )
    .unwrap();
    check_full_reader(Sink::Journal, read, write, true);
}

#[test]
fn stderr_output_formats_by_style() {
    for (style, expected) in [
        (Sink::Journal, "<4>careful\\nnow\n"),
        (Sink::Stderr, "WARN careful\\nnow\n"),
    ] {
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut out = StderrOutput::new(style, Box::new(write), false);
        out.log(Level::Warn, "careful\nnow");
        assert_eq!(read_all(&read), expected);
    }
}

#[test]
fn syslog_never_blocks_on_a_full_socket() {
    let dir = std::env::temp_dir().join(format!("replayd-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path: &'static Path = Box::leak(dir.join("log").into_boxed_path());
    let server = UnixDatagram::bind(path).unwrap();

    let mut out = SyslogOutput::connect(path).unwrap();
    let started = Instant::now();
    // Nobody reads: the queue fills after a few lines; the rest must be dropped at once.
    for i in 0..5000 {
        out.log(Level::Info, &format!("line {i}\nsecond half"));
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.dropped > 0);

    let mut buf = [0u8; 9000];
    let n = server.recv(&mut buf).unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    // daemon facility (3) * 8 + info (6) = 30
    assert!(first.starts_with("<30>"), "{first}");
    assert!(first.contains(" replayd["), "{first}");
    assert!(first.ends_with("]: line 0\\nsecond half"), "{first}");

    // Drain, then the next line carries the count of what was lost.
    server.set_nonblocking(true).unwrap();
    while server.recv(&mut buf).is_ok() {}
    out.log(Level::Warn, "after");
    let n = server.recv(&mut buf).unwrap();
    let notice = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(notice.starts_with("<28>"), "{notice}");
    assert!(notice.contains("log line(s) dropped"), "{notice}");
    assert_eq!(out.dropped, 0);
    let n = server.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("]: after"));

    // The reader restarts: the next line reconnects to the new socket.
    drop(server);
    std::fs::remove_file(path).unwrap();
    let server = UnixDatagram::bind(path).unwrap();
    out.log(Level::Error, "again");
    let n = server.recv(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        line.starts_with("<27>") && line.ends_with("]: again"),
        "{line}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn syslog_truncates_long_messages() {
    let dir = std::env::temp_dir().join(format!("replayd-log-long-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path: &'static Path = Box::leak(dir.join("log").into_boxed_path());
    let server = UnixDatagram::bind(path).unwrap();
    let mut out = SyslogOutput::connect(path).unwrap();
    out.log(Level::Info, &"x".repeat(100_000));
    let mut buf = vec![0u8; 200_000];
    let n = server.recv(&mut buf).unwrap();
    assert!(n < SYSLOG_MAX_MESSAGE + 100, "{n}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn syslog_connect_fails_cleanly_without_a_socket() {
    let path = Path::new("/nonexistent/replayd/log");
    assert!(SyslogOutput::connect(path).is_err());
}
