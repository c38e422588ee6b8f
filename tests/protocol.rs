//! The control protocol under bad input and bad clients (SPEC §3,
//! docs/protocol.md): every malformed request gets a clear error on a
//! connection that stays usable, validation refuses what it must before
//! anything is accepted, and no client — slow, silent, flooding or one of
//! hundreds — delays the others or leaks resources.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a healthy daemon may take to answer a ping or status.
const PROMPT: Duration = Duration::from_secs(2);

// ---- helpers ----

/// Sends raw bytes and returns the next response (panics after 5 s).
fn raw(c: &mut Client, bytes: &[u8]) -> Value {
    c.send_raw(bytes);
    c.read_response(secs(5))
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(bytes)))
}

/// Asserts an error response with `code`; returns its message.
fn expect_error(reply: &Value, code: &str, what: &str) -> String {
    assert_eq!(reply["ok"], false, "{what}: expected {code}, got {reply}");
    assert_eq!(
        reply["error"]["code"], code,
        "{what}: expected {code}, got {reply}"
    );
    let message = reply["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: error without a message: {reply}"));
    assert!(!message.trim().is_empty(), "{what}: empty message: {reply}");
    message.to_string()
}

/// Asserts a pong.
fn expect_pong(reply: &Value, what: &str) {
    assert_eq!(reply["ok"], true, "{what}: {reply}");
    assert_eq!(reply["protocol"], 2, "{what}: {reply}");
    assert_eq!(
        reply["version"],
        env!("CARGO_PKG_VERSION"),
        "{what}: {reply}"
    );
}

/// Pings on `c`, asserting the answer is a pong that came within PROMPT.
fn ping_promptly(c: &mut Client, what: &str) {
    let t = Instant::now();
    c.send_raw(b"{\"cmd\":\"ping\"}\n");
    let reply = c
        .read_response(PROMPT)
        .unwrap_or_else(|| panic!("{what}: no pong within {PROMPT:?}"));
    expect_pong(&reply, what);
    assert!(t.elapsed() < PROMPT, "{what}: pong took {:?}", t.elapsed());
}

/// A fresh connection still gets a pong, and the process is alive.
fn assert_daemon_healthy(daemon: &mut Daemon, root: &TestRoot) {
    assert!(
        daemon.is_running(),
        "replayd exited: {:?}\n{}",
        daemon.try_exit(),
        daemon.log_report()
    );
    let mut c = Client::connect(root.socket());
    ping_promptly(&mut c, "fresh connection at the end");
}

/// Polls `status` until the session is `ready`; returns the last status.
fn wait_ready_status(c: &mut Client) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(secs(20), || {
        last = c.cmd("status");
        if last["job"]["status"] == "failed" {
            panic!("job failed: {last}");
        }
        last["session"]["state"] == "ready"
    });
    assert!(ok, "session never became ready: {last}");
    last
}

fn contains_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

// ---- framing and decoding ----

#[test]
fn garbage_gets_invalid_request_and_the_connection_goes_on() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());

    // (bytes, code, a word the message must contain)
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"not json\n".to_vec(), "invalid_request", "JSON"),
        (b"{\"cmd\":\"ping\"\n".to_vec(), "invalid_request", "JSON"),
        (b"[1,2,3]\n".to_vec(), "invalid_request", "object"),
        (b"42\n".to_vec(), "invalid_request", "object"),
        (b"\"ping\"\n".to_vec(), "invalid_request", "object"),
        (b"null\n".to_vec(), "invalid_request", "object"),
        (b"{}\n".to_vec(), "invalid_request", "cmd"),
        (b"{\"cmd\":5}\n".to_vec(), "invalid_request", "cmd"),
        (b"{\"cmd\":\"reboot\"}\n".to_vec(), "invalid_request", "reboot"),
        (b"{\"cmd\":\"PING\"}\n".to_vec(), "invalid_request", "PING"),
        (b"{\"cmd\":\"ping\",\"x\":1}\n".to_vec(), "invalid_request", "'x'"),
        (b"{\"cmd\":\"status\",\"verbose\":true}\n".to_vec(), "invalid_request", "verbose"),
        (
            br#"{"cmd":"start","camera":"front","start_time":1700000000,"end_time":1700000010,"fast":true}
"#
            .to_vec(),
            "invalid_request",
            "fast",
        ),
        (
            br#"{"cmd":"start_from_export","export_id":"front_x7k2p9","camera":"front"}
"#
            .to_vec(),
            "invalid_request",
            "camera",
        ),
        // A known request with a missing field or a field of the wrong type.
        (
            br#"{"cmd":"start","camera":"front"}
"#
            .to_vec(),
            "invalid_params",
            "start_time",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":1700000000}
"#
            .to_vec(),
            "invalid_params",
            "end_time",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":"1","end_time":1700000010}
"#
            .to_vec(),
            "invalid_params",
            "start",
        ),
        (
            br#"{"cmd":"start","camera":7,"start_time":1700000000,"end_time":1700000010}
"#
            .to_vec(),
            "invalid_params",
            "start",
        ),
        (
            br#"{"cmd":"start","camera":null,"start_time":1700000000,"end_time":1700000010}
"#
            .to_vec(),
            "invalid_params",
            "start",
        ),
        (
            br#"{"cmd":"start_from_export"}
"#
            .to_vec(),
            "invalid_params",
            "export_id",
        ),
        (
            br#"{"cmd":"start_from_export","export_id":42}
"#
            .to_vec(),
            "invalid_params",
            "start_from_export",
        ),
        // JSON has no NaN or infinity: these lines are not JSON at all, so
        // they fail at the framing stage (invalid_request), before any field
        // is looked at; `1e999` overflows f64 and serde_json refuses it as
        // "number out of range" instead of turning it into inf.
        (
            br#"{"cmd":"start","camera":"front","start_time":NaN,"end_time":1700000010}
"#
            .to_vec(),
            "invalid_request",
            "JSON",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":1700000000,"end_time":Infinity}
"#
            .to_vec(),
            "invalid_request",
            "JSON",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":-Infinity,"end_time":1700000010}
"#
            .to_vec(),
            "invalid_request",
            "JSON",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":1700000000,"end_time":1e999}
"#
            .to_vec(),
            "invalid_request",
            "JSON",
        ),
        // Not UTF-8: a lone continuation byte, an invalid lead byte, an
        // overlong encoding of '/', all inside otherwise valid JSON.
        (
            b"{\"cmd\":\"ping\",\"\x80\":1}\n".to_vec(),
            "invalid_request",
            "UTF-8",
        ),
        (b"\xff\xfe{\"cmd\":\"ping\"}\n".to_vec(), "invalid_request", "UTF-8"),
        (
            b"{\"cmd\":\"start\",\"camera\":\"\xc0\xaf\",\"start_time\":1,\"end_time\":2}\n"
                .to_vec(),
            "invalid_request",
            "UTF-8",
        ),
        // Deep nesting within the size limit: refused, not a stack overflow.
        (
            [b"[".repeat(30_000).as_slice(), b"\n"].concat(),
            "invalid_request",
            "JSON",
        ),
        (
            [
                b"{\"cmd\":\"ping\",\"x\":".as_slice(),
                b"{\"a\":".repeat(10_000).as_slice(),
                b"1",
                b"}".repeat(10_001).as_slice(),
                b"\n",
            ]
            .concat(),
            "invalid_request",
            "JSON",
        ),
        // Hostile text (JSON-escaped control characters) in the places a
        // message might echo: cmd, a field name, a field value.
        (
            br#"{"cmd":"\u001b[2J\nFORGED-LOG-LINE \u0007"}
"#
            .to_vec(),
            "invalid_request",
            "cmd",
        ),
        (
            br#"{"cmd":"ping","\nFORGED-LOG-LINE\u001b[31m":1}
"#
            .to_vec(),
            "invalid_request",
            "field",
        ),
        (
            br#"{"cmd":"start","camera":"front","start_time":"\nFORGED-LOG-LINE\u001b[31m","end_time":1}
"#
            .to_vec(),
            "invalid_params",
            "start",
        ),
        (
            br#"{"cmd":"start_from_export","export_id":"\nFORGED-LOG-LINE\u001b[31m"}
"#
            .to_vec(),
            "not_found",
            "export",
        ),
        // Two objects on one line are not one JSON request.
        (
            b"{\"cmd\":\"ping\"} {\"cmd\":\"status\"}\n".to_vec(),
            "invalid_request",
            "JSON",
        ),
        // A NUL byte is valid UTF-8 but not JSON.
        (b"{\"cmd\":\"ping\"}\x00\n".to_vec(), "invalid_request", "JSON"),
    ];
    for (bytes, code, word) in &cases {
        let what = format!("{:?}", String::from_utf8_lossy(bytes));
        let reply = raw(&mut c, bytes);
        let message = expect_error(&reply, code, &what);
        assert!(
            message.contains(word),
            "{what}: message {message:?} does not mention {word:?}"
        );
        assert!(
            !contains_control(&message),
            "{what}: raw control character in {message:?}"
        );
        // Same connection, next request: answered normally.
        ping_promptly(&mut c, &format!("ping after {what}"));
    }

    // Nothing of that reached the session.
    let status = c.cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert!(status["job"].is_null(), "{status}");
    assert_daemon_healthy(&mut daemon, &root);

    // Nor could it forge log lines (the log runs at debug level here, so
    // every refused request was logged).
    let log = daemon.log();
    assert!(
        log.contains("FORGED-LOG-LINE"),
        "hostile requests were not logged"
    );
    for line in log.lines() {
        assert!(
            !line.starts_with("FORGED-LOG-LINE"),
            "peer input forged a log line: {line:?}"
        );
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "raw control character in log line {line:?}"
        );
    }
}

#[test]
fn long_lines_are_refused_and_discarded_up_to_the_newline() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());

    // Exactly 65,536 bytes (the limit, newline excluded) is still accepted:
    // a ping padded with trailing spaces (valid JSON whitespace).
    let mut line = b"{\"cmd\":\"ping\"}".to_vec();
    line.resize(64 * 1024, b' ');
    line.push(b'\n');
    expect_pong(&raw(&mut c, &line), "ping of exactly 64 KiB");

    // The `\r` of a CRLF ending is not part of the line.
    let mut line = b"{\"cmd\":\"ping\"}".to_vec();
    line.resize(64 * 1024, b' ');
    line.extend_from_slice(b"\r\n");
    expect_pong(&raw(&mut c, &line), "64 KiB + CRLF in one write");

    // One byte more is too long.
    let mut line = b"{\"cmd\":\"ping\"}".to_vec();
    line.resize(64 * 1024 + 1, b' ');
    line.push(b'\n');
    let message = expect_error(&raw(&mut c, &line), "invalid_request", "64 KiB + 1");
    assert!(message.contains("longer than"), "{message}");
    ping_promptly(&mut c, "after 64 KiB + 1");

    // 100 KiB in one write, then a ping in a later write: one error for the
    // long line (its tail is discarded, not parsed as a request), then the pong.
    let mut long = b"{\"cmd\":\"ping\",\"pad\":\"".to_vec();
    long.resize(100 * 1024, b'x');
    long.extend_from_slice(b"\"}\n");
    let message = expect_error(&raw(&mut c, &long), "invalid_request", "100 KiB line");
    assert!(message.contains("longer than"), "{message}");
    ping_promptly(&mut c, "after the 100 KiB line");

    // 100 KiB dribbled in 10 KiB writes without a newline, the newline and a
    // status in the last write: exactly one error, then the status reply.
    let chunk = vec![b'y'; 10 * 1024];
    for _ in 0..10 {
        c.send_raw(&chunk);
        std::thread::sleep(Duration::from_millis(5));
    }
    c.send_raw(b"tail of the long line\n{\"cmd\":\"status\"}\n");
    let message = expect_error(
        &c.read_response(secs(5))
            .expect("error for the dribbled line"),
        "invalid_request",
        "dribbled 100 KiB line",
    );
    assert!(message.contains("longer than"), "{message}");
    let status = c
        .read_response(secs(5))
        .expect("status after the long line");
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["session"]["state"], "idle", "{status}");
    // And nothing else was queued: the next reply is the next pong.
    ping_promptly(&mut c, "after the dribbled line");

    // 1 MiB in one go (several reads' worth) with two pings behind it.
    let mut huge = vec![b'z'; 1024 * 1024];
    huge.extend_from_slice(b"\n{\"cmd\":\"ping\"}\n{\"cmd\":\"ping\"}\n");
    let writer = {
        let mut w = UnixStream::connect(root.socket()).expect("connect");
        let mut r = w.try_clone().expect("clone");
        let t = std::thread::spawn(move || w.write_all(&huge));
        r.set_read_timeout(Some(secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.iter().filter(|&&b| b == b'\n').count() < 3 {
            let n = r.read(&mut buf).expect("read replies to the 1 MiB line");
            assert!(n > 0, "daemon closed the connection: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        t.join().unwrap().expect("write 1 MiB");
        got
    };
    let lines: Vec<Value> = String::from_utf8(writer)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    expect_error(&lines[0], "invalid_request", "1 MiB line");
    expect_pong(&lines[1], "first ping after 1 MiB");
    expect_pong(&lines[2], "second ping after 1 MiB");

    let (fds, rss) = (daemon.fd_count(), daemon.rss_kb());
    eprintln!("after the long lines: {fds} fds, {rss} KiB RSS");
    assert!(rss < 64 * 1024, "{rss} KiB RSS after long lines");
    assert_daemon_healthy(&mut daemon, &root);
}

/// Framing must not depend on how the peer's bytes are split into writes:
/// a 64 KiB line ending in CRLF is accepted in one write (above), so it must
/// be accepted when the CR and the LF arrive separately too.
#[test]
fn a_64_kib_crlf_line_is_accepted_however_it_is_split() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let mut line = b"{\"cmd\":\"ping\"}".to_vec();
    line.resize(64 * 1024, b' ');
    line.push(b'\r');
    c.send_raw(&line);
    std::thread::sleep(Duration::from_millis(100));
    let reply = raw(&mut c, b"\n");
    expect_pong(&reply, "64 KiB + CR, then LF in a later write");
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn pipelined_split_blank_and_crlf_lines() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());

    // Several requests in one write: one reply each, in order.
    c.send_raw(
        b"{\"cmd\":\"ping\"}\n{\"cmd\":\"status\"}\n{\"cmd\":\"nope\"}\n{\"cmd\":\"stop\"}\n{\"cmd\":\"ping\"}\n",
    );
    let replies: Vec<Value> = (0..5)
        .map(|i| {
            c.read_response(secs(5))
                .unwrap_or_else(|| panic!("reply {i} of 5 missing"))
        })
        .collect();
    expect_pong(&replies[0], "pipelined 1");
    assert_eq!(replies[1]["ok"], true, "{}", replies[1]);
    assert_eq!(replies[1]["session"]["state"], "idle", "{}", replies[1]);
    expect_error(&replies[2], "invalid_request", "pipelined 3");
    expect_error(&replies[3], "not_active", "pipelined 4");
    expect_pong(&replies[4], "pipelined 5");
    assert!(
        c.read_line_timeout(Duration::from_millis(200)).is_none(),
        "a sixth line arrived"
    );

    // One request split across writes with pauses: no reply until the
    // newline, then exactly one.
    for part in [&b"{\"cm"[..], b"d\":\"pi", b"ng\"", b"}"] {
        c.send_raw(part);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            c.read_line_timeout(Duration::from_millis(10)).is_none(),
            "reply before the line was complete"
        );
    }
    c.send_raw(b"\n");
    expect_pong(&c.read_response(secs(5)).expect("pong"), "split request");

    // Blank lines (empty, spaces, tabs, CR only) get no reply at all: the
    // first reply after them is the ping's, the second the status's.
    c.send_raw(b"\n\n   \n\t\n\r\n{\"cmd\":\"ping\"}\n\n{\"cmd\":\"status\"}\n");
    expect_pong(&c.read_response(secs(5)).unwrap(), "after blank lines");
    let status = c.read_response(secs(5)).unwrap();
    assert_eq!(status["session"]["state"], "idle", "{status}");
    assert!(
        c.read_line_timeout(Duration::from_millis(200)).is_none(),
        "a blank line was answered"
    );

    // CRLF endings.
    expect_pong(&raw(&mut c, b"{\"cmd\":\"ping\"}\r\n"), "CRLF ping");
    c.send_raw(b"{\"cmd\":\"ping\"}\r\n{\"cmd\":\"status\"}\r\n");
    expect_pong(&c.read_response(secs(5)).unwrap(), "CRLF pipelined");
    assert_eq!(c.read_response(secs(5)).unwrap()["ok"], true);

    // A client that half-closes after its last request still gets the reply.
    let mut h = Client::connect(root.socket());
    h.send_raw(b"{\"cmd\":\"ping\"}\n{\"cmd\":\"status\"}");
    h.shutdown_write();
    expect_pong(
        &h.read_response(secs(5)).expect("pong before EOF"),
        "half-closed",
    );
    // Then the daemon closes its side (whether or not it answers the
    // unterminated line is not part of the contract).
    assert!(h.wait_closed(secs(5)), "daemon kept a half-closed client");

    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn thousands_of_pipelined_requests_are_all_answered_in_order() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    // 5,000 requests (about 90 KB) in one write, alternating ping and status.
    let mut batch = Vec::new();
    for i in 0..5000 {
        batch.extend_from_slice(if i % 2 == 0 {
            b"{\"cmd\":\"ping\"}\n".as_slice()
        } else {
            b"{\"cmd\":\"status\"}\n".as_slice()
        });
    }
    c.send_raw(&batch);
    for i in 0..5000 {
        let reply = c
            .read_response(secs(5))
            .unwrap_or_else(|| panic!("reply {i} of 5000 missing"));
        if i % 2 == 0 {
            expect_pong(&reply, &format!("reply {i}"));
        } else {
            assert_eq!(reply["session"]["state"], "idle", "reply {i}: {reply}");
        }
    }
    assert!(
        c.read_line_timeout(Duration::from_millis(100)).is_none(),
        "more replies than requests"
    );
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn deferred_replies_keep_request_order() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let export = root.export().clone();

    // start_from_export answers after ffprobe; the ping and status sent in
    // the same write are answered after it, in order.
    c.send_raw(
        format!(
            "{{\"cmd\":\"start_from_export\",\"export_id\":\"{}\"}}\n{{\"cmd\":\"ping\"}}\n{{\"cmd\":\"status\"}}\n",
            export.id
        )
        .as_bytes(),
    );
    let start = c.read_response(secs(10)).expect("start_from_export reply");
    assert_eq!(start["ok"], true, "{start}");
    assert_eq!(start["replay_camera"], "_replay_front", "{start}");
    expect_pong(
        &c.read_response(secs(5)).expect("pong"),
        "after start_from_export",
    );
    let status = c.read_response(secs(5)).expect("status");
    assert_eq!(status["session"]["active"], true, "{status}");
    assert_eq!(status["session"]["source_camera"], "front", "{status}");
    assert_eq!(status["session"]["start_time"], export.date, "{status}");
    let span = status["session"]["end_time"].as_f64().unwrap() - export.date;
    assert!((span - export.duration).abs() < 0.5, "export span {span}");
    assert_eq!(status["job"]["id"], start["job_id"], "{status}");

    // stop answers after cleanup; the status behind it sees the result.
    c.send_raw(b"{\"cmd\":\"stop\"}\n{\"cmd\":\"status\"}\n{\"cmd\":\"stop\"}\n");
    let stop = c.read_response(secs(10)).expect("stop reply");
    assert_eq!(stop["ok"], true, "{stop}");
    assert_eq!(stop["summary"]["replay_camera"], "_replay_front", "{stop}");
    let status = c.read_response(secs(5)).expect("status after stop");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(status["last_summary"], stop["summary"], "{status}");
    expect_error(
        &c.read_response(secs(5)).expect("second stop"),
        "not_active",
        "second stop",
    );
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_client_that_leaves_before_its_reply_does_not_upset_the_daemon() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let baseline = daemon.fd_count();
    let export_id = root.export().id.clone();
    let mut c = Client::connect(root.socket());

    // start_from_export, then gone before ffprobe answers.
    {
        let mut s = UnixStream::connect(root.socket()).unwrap();
        s.write_all(
            format!("{{\"cmd\":\"start_from_export\",\"export_id\":\"{export_id}\"}}\n").as_bytes(),
        )
        .unwrap();
    }
    // Whatever became of that start, the daemon answers and is consistent.
    let mut status = Value::Null;
    assert!(
        wait_until(secs(10), || {
            status = c.cmd("status");
            status["session"]["state"] == "ready" || status["session"]["active"] == false
        }),
        "{status}"
    );
    ping_promptly(&mut c, "after the export client left");
    if status["session"]["active"] == true {
        // stop, then gone before the summary.
        let mut s = UnixStream::connect(root.socket()).unwrap();
        s.write_all(b"{\"cmd\":\"stop\"}\n").unwrap();
        drop(s);
        assert!(
            wait_until(secs(10), || c.cmd("status")["session"]["active"] == false),
            "session never stopped"
        );
        assert!(!root.clip_path("_replay_front").exists());
    }
    drop(c);
    let mut fds = 0;
    assert!(
        wait_until(secs(5), || {
            fds = daemon.fd_count();
            fds == baseline
        }),
        "fds {fds}, baseline {baseline}: {:?}",
        daemon.fds()
    );
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn running_out_of_fds_pauses_accept_and_never_kills_the_daemon() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let baseline = daemon.fd_count();
    // Squeeze the running daemon to 16 fds beyond what it has open now.
    let limit = (baseline + 16) as u64;
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", daemon.pid()))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("run prlimit");
    assert!(status.success(), "prlimit failed: {status}");

    // 40 clients: the first ones are served, the others wait in the backlog.
    let mut clients: Vec<Client> = (0..40)
        .map(|i| {
            Client::try_connect(root.socket())
                .unwrap_or_else(|e| panic!("connect {i} (backlog) failed: {e}"))
        })
        .collect();
    for c in &mut clients {
        c.send_raw(b"{\"cmd\":\"ping\"}\n");
    }
    // Give the daemon time to serve all it can, then see who was answered.
    std::thread::sleep(Duration::from_millis(300));
    let answered: Vec<bool> = clients
        .iter_mut()
        .map(|c| c.read_response(Duration::from_millis(20)).is_some())
        .collect();
    let served = answered.iter().filter(|a| **a).count();
    eprintln!("fd limit {limit}: {served} of 40 clients served at first");
    assert!(
        served >= 8,
        "only {served} clients served under the fd limit"
    );
    assert!(served < 40, "the fd limit did not bite ({served} served)");
    assert!(daemon.is_running(), "{}", daemon.log_report());
    assert!(
        daemon.log().contains("accept on control socket failed"),
        "{}",
        daemon.log_report()
    );

    // Served clients leave: the waiting ones get their pongs, each leaving
    // once served to make room for the next.
    let waiting: Vec<Client> = clients
        .into_iter()
        .zip(answered)
        .filter_map(|(c, served)| (!served).then_some(c))
        .collect();
    let (count, t) = (waiting.len(), Instant::now());
    for (i, mut c) in waiting.into_iter().enumerate() {
        let reply = c
            .read_response(secs(5))
            .unwrap_or_else(|| panic!("waiting client {i} never served\n{}", daemon.log_report()));
        expect_pong(&reply, &format!("waiting client {i}"));
    }
    eprintln!("{count} waiting clients served in {:?}", t.elapsed());
    let mut fds = 0;
    assert!(
        wait_until(secs(5), || {
            fds = daemon.fd_count();
            fds == baseline
        }),
        "fds {fds}, baseline {baseline}"
    );
    assert_daemon_healthy(&mut daemon, &root);
}

/// CPU time (user + system) of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Connects, sends `request`, waits until the daemon has read it, hangs up;
/// returns the daemon's CPU ticks over the next second.
fn cpu_after_hang_up(root: &TestRoot, pid: u32, request: &str) -> u64 {
    {
        let mut s = UnixStream::connect(root.socket()).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1000));
    cpu_ticks(pid) - before
}

#[test]
fn a_client_that_hangs_up_while_its_stop_is_in_progress_costs_no_cpu() {
    // An ffmpeg that ignores SIGTERM: the stop waits kill_grace (2 s) for it.
    let root = TestRoot::builder()
        .fake_ffmpeg("trap '' TERM\nexec sleep 30")
        .kill_grace("2s")
        .build();
    let mut daemon = Daemon::spawn(&root);
    let pid = daemon.pid();
    let t0 = root.base_time();
    let mut c = Client::connect(root.socket());
    assert_eq!(c.request(&start_req("front", t0, t0 + 10.0))["ok"], true);
    std::thread::sleep(Duration::from_millis(200));

    let spent = cpu_after_hang_up(&root, pid, "{\"cmd\":\"stop\"}\n");
    eprintln!("CPU while a hung-up client's stop was in progress: {spent} ticks in 1 s");
    assert!(
        wait_until(secs(10), || c.cmd("status")["session"]["active"] == false),
        "the stop never finished"
    );
    assert!(
        spent < 20,
        "the daemon burnt {spent} clock ticks (of 100) in 1 s while a stop, whose \
         client had hung up, waited for ffmpeg: a poll loop spinning on POLLHUP"
    );
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_client_that_hangs_up_while_waiting_for_its_reply_costs_no_cpu() {
    let mut root = TestRoot::new();
    // An ffprobe that takes 1.5 s, so the start_from_export reply is owed
    // for that long.
    let probe = root.write_script("ffprobe", "sleep 1.5\nexec ffprobe \"$@\"");
    root.update_toml(move |t| t.ffprobe = Some(probe));
    let mut daemon = Daemon::spawn(&root);
    let export_id = root.export().id.clone();
    let pid = daemon.pid();

    {
        let mut s = UnixStream::connect(root.socket()).unwrap();
        s.write_all(
            format!("{{\"cmd\":\"start_from_export\",\"export_id\":\"{export_id}\"}}\n").as_bytes(),
        )
        .unwrap();
        // Let the daemon read the request before we hang up.
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let spent = cpu_ticks(pid) - before;
    eprintln!("CPU while a hung-up client's reply was owed: {spent} ticks in 1 s");
    assert!(
        spent < 20,
        "the daemon burnt {spent} clock ticks (of 100) in 1 s waiting on ffprobe for a \
         client that had hung up: a poll loop spinning on POLLHUP"
    );

    // The start itself went through; clean up.
    let mut c = Client::connect(root.socket());
    let mut status = Value::Null;
    assert!(wait_until(secs(10), || {
        status = c.cmd("status");
        status["session"]["active"] == true
    }));
    assert_eq!(c.cmd("stop")["ok"], true);
    assert_daemon_healthy(&mut daemon, &root);
}

// ---- validation ----

#[test]
fn invalid_parameters_are_refused_before_anything_is_accepted() {
    let root = TestRoot::builder().max_range("1m").build();
    let mut daemon = Daemon::spawn(&root);
    let mut c = Client::connect(root.socket());
    let t0 = root.base_time();

    // Camera names: anything outside [a-zA-Z0-9_-]+, and replay cameras.
    let hostile = format!("{}\n\u{1b}[31m\r\t\u{7}evil\u{0}", "a".repeat(200));
    let bad_names = [
        "../x",
        "a/b",
        "/etc/passwd",
        "",
        ".",
        "front ",
        "front.yml",
        "fr\u{f6}nt",
        "_replay_front",
        "_replay_",
        hostile.as_str(),
    ];
    for name in bad_names {
        let what = format!("camera {name:?}");
        let reply = c.request(&start_req(name, t0, t0 + 10.0));
        let message = expect_error(&reply, "invalid_params", &what);
        assert!(
            !contains_control(&message),
            "{what}: raw control character in {message:?}"
        );
        assert!(message.len() < 400, "{what}: message not capped: {message}");
        assert!(message.contains("camera"), "{what}: {message}");
    }

    // A well-formed camera the NVR does not have.
    let message = expect_error(
        &c.request(&start_req("garage", t0, t0 + 10.0)),
        "not_found",
        "garage",
    );
    assert!(message.contains("garage"), "{message}");

    // Ranges.
    for (start, end, word) in [
        (t0 + 10.0, t0 + 10.0, "end_time"),
        (t0 + 10.0, t0 + 5.0, "end_time"),
        (t0, t0 + 61.0, "max_range"),
        (t0, t0 + 3600.0, "max_range"),
        (-1e300, 1e300, "max_range"),
    ] {
        let what = format!("range {start}..{end}");
        let message = expect_error(
            &c.request(&start_req("front", start, end)),
            "invalid_params",
            &what,
        );
        assert!(message.contains(word), "{what}: {message}");
    }

    // A valid range with nothing recorded in it (an hour before the fixture).
    let message = expect_error(
        &c.request(&start_req("front", t0 - 3600.0, t0 - 3590.0)),
        "no_recordings",
        "empty range",
    );
    assert!(message.contains("front"), "{message}");
    // A camera in the NVR config, with no recordings at all.
    expect_error(
        &c.request(&start_req("back", t0, t0 + 10.0)),
        "no_recordings",
        "camera without recordings",
    );

    // Stop with nothing active; exports that do not exist.
    expect_error(&c.cmd("stop"), "not_active", "stop while idle");
    for id in ["no_such_export", "../front_x7k2p9", ""] {
        let what = format!("export {id:?}");
        let reply = c.request(&json!({"cmd": "start_from_export", "export_id": id}));
        let code = reply["error"]["code"].as_str().unwrap_or("");
        assert!(
            code == "not_found" || (id.is_empty() && code == "invalid_params"),
            "{what}: {reply}"
        );
    }

    // None of it started anything or touched the tree.
    let status = c.cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert_eq!(status["session"]["state"], "idle", "{status}");
    assert!(status["job"].is_null(), "{status}");
    assert!(
        !std::fs::read_to_string(root.session_file()).is_ok_and(|s| s.contains("_replay_")),
        "a session was persisted"
    );
    assert!(
        !root.replay_dir().exists()
            || std::fs::read_dir(root.replay_dir())
                .unwrap()
                .next()
                .is_none(),
        "something was written to the replay dir"
    );
    assert!(
        std::fs::read_dir(root.run_dir().join("cameras"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "a camera was published"
    );

    // The exact limit is accepted (at most max_range), then stopped.
    let reply = c.request(&start_req("front", t0, t0 + 60.0));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["replay_camera"], "_replay_front", "{reply}");
    // A second start while one is active.
    expect_error(
        &c.request(&start_req("front", t0, t0 + 10.0)),
        "already_active",
        "second start",
    );
    let stop = c.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}");
    assert_eq!(stop["summary"]["replay_camera"], "_replay_front", "{stop}");

    assert_daemon_healthy(&mut daemon, &root);
}

// ---- bad clients ----

#[test]
fn a_client_with_a_partial_line_does_not_block_others() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);

    // One client sends half a request and waits; another says nothing at all.
    let mut slow = Client::connect(root.socket());
    slow.send_raw(b"{\"cmd\":\"pi");
    let _silent = UnixStream::connect(root.socket()).expect("connect silent client");
    std::thread::sleep(Duration::from_millis(100));

    for i in 0..5 {
        let mut other = Client::connect(root.socket());
        ping_promptly(&mut other, &format!("other client {i}"));
        let t = Instant::now();
        let status = other.cmd("status");
        assert_eq!(status["ok"], true, "{status}");
        assert!(t.elapsed() < PROMPT, "status took {:?}", t.elapsed());
    }

    // The slow client's half line was kept: finishing it gets a pong.
    slow.send_raw(b"ng\"}\n");
    expect_pong(
        &slow
            .read_response(secs(5))
            .expect("pong for the completed line"),
        "completed partial line",
    );
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn subscribing_twice_does_not_duplicate_events() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let t0 = root.base_time();
    let mut sub = Client::subscribe(root.socket());
    assert_eq!(sub.cmd("subscribe"), json!({"ok": true}));

    let mut c = Client::connect(root.socket());
    assert_eq!(c.request(&start_req("front", t0, t0 + 4.0))["ok"], true);
    wait_ready_status(&mut c);
    assert_eq!(c.cmd("stop")["ok"], true);
    assert!(
        sub.wait_for_event(secs(5), |e| e["event"] == "summary")
            .is_some(),
        "no summary: {:?}",
        sub.seen_events()
    );
    // Anything else queued arrives within a moment; there must be no copies.
    while sub.next_event(Duration::from_millis(200)).is_some() {}
    let events = sub.seen_events();
    let count = |pred: &dyn Fn(&Value) -> bool| events.iter().filter(|e| pred(e)).count();
    assert_eq!(count(&|e| e["event"] == "summary"), 1, "{events:?}");
    assert_eq!(
        count(&|e| e["event"] == "camera" && e["action"] == "add"),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&|e| e["event"] == "camera" && e["action"] == "remove"),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&|e| e["event"] == "job_state" && e["job"]["id"] == "stopped"),
        1,
        "{events:?}"
    );
    // A request on the subscribed connection still gets its own response.
    expect_pong(&sub.cmd("ping"), "ping on a subscribed connection");
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_subscriber_that_never_reads_does_not_block_a_session() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let t0 = root.base_time();

    // Subscribed, then never reads again.
    let mut stuck = UnixStream::connect(root.socket()).expect("connect");
    stuck.write_all(b"{\"cmd\":\"subscribe\"}\n").unwrap();

    let mut c = Client::connect(root.socket());
    // Several sessions back to back: each emits progress, camera add/remove,
    // terminal job states and a summary to the stuck subscriber.
    for round in 0..3 {
        let t = Instant::now();
        let reply = c.request(&start_req("front", t0, t0 + 20.0));
        assert_eq!(reply["ok"], true, "round {round}: {reply}");
        assert!(t.elapsed() < PROMPT, "start took {:?}", t.elapsed());
        let status = wait_ready_status(&mut c);
        assert_eq!(status["job"]["status"], "success", "{status}");

        let mut other = Client::connect(root.socket());
        ping_promptly(&mut other, &format!("round {round}"));

        let t = Instant::now();
        let stop = c.cmd("stop");
        assert_eq!(stop["ok"], true, "round {round}: {stop}");
        assert!(t.elapsed() < secs(5), "stop took {:?}", t.elapsed());
    }
    let status = c.cmd("status");
    assert_eq!(status["session"]["state"], "idle", "{status}");
    assert_eq!(status["last_summary"]["replay_camera"], "_replay_front");

    // What the stuck subscriber was sent is all there, in order, when it
    // finally reads: the subscribe reply first, then event lines.
    stuck
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = stuck.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("{\"ok\":true}"), "{text}");
    let events: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    let summaries = events.iter().filter(|e| e["event"] == "summary").count();
    assert_eq!(summaries, 3, "stuck subscriber's events: {events:?}");
    assert!(events.iter().all(|e| e["event"].is_string()));
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_client_that_floods_requests_without_reading_is_held_back() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let baseline = daemon.fd_count();

    // Status requests as fast as the daemon takes them, replies never read:
    // once 64 KiB of its replies wait, the daemon stops reading its requests
    // (issue 10 finding 5: it used to buffer 4 MiB per client), so its
    // writes stall on full socket buffers, without making anyone else wait.
    let flood = UnixStream::connect(root.socket()).expect("connect");
    let mut w = flood.try_clone().unwrap();
    w.set_write_timeout(Some(secs(3))).unwrap();
    let writer = std::thread::spawn(move || {
        let batch = b"{\"cmd\":\"status\"}\n".repeat(512);
        let mut sent = 0usize;
        let started = Instant::now();
        loop {
            match w.write_all(&batch) {
                Ok(()) => sent += batch.len(),
                Err(e) => return (sent, Some(e), started.elapsed()),
            }
            if started.elapsed() > secs(20) {
                return (sent, None, started.elapsed());
            }
        }
    });

    let mut other = Client::connect(root.socket());
    let t = Instant::now();
    let mut pings = 0;
    while !writer.is_finished() && t.elapsed() < secs(25) {
        ping_promptly(&mut other, "while another client floods");
        pings += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let (sent, error, took) = writer.join().unwrap();
    eprintln!(
        "flood: {sent} bytes of requests in {took:?} before {error:?}; {pings} pings meanwhile"
    );
    let error = error.expect("the flooding client was never held back");
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "flooding client got {error:?}, not a stalled write"
    );
    // What the daemon took: socket buffers and one backlog's worth of
    // requests, not megabytes.
    assert!(sent < 16 * 1024 * 1024, "{sent} bytes of requests taken");
    drop(flood);
    drop(other);
    let mut fds = 0;
    assert!(
        wait_until(secs(5), || {
            fds = daemon.fd_count();
            fds == baseline
        }),
        "fds: {fds} now, {baseline} before: {:?}",
        daemon.fds()
    );
    let rss = daemon.rss_kb();
    eprintln!("after the flood: {fds} fds, {rss} KiB RSS");
    assert!(rss < 64 * 1024, "{rss} KiB RSS after the flood");
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn two_hundred_concurrent_clients_are_served_and_released() {
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    // The baseline is taken with no client connected.
    let baseline = daemon.fd_count();
    let rss_before = daemon.rss_kb();

    let t = Instant::now();
    let mut clients: Vec<Client> = (0..200).map(|_| Client::connect(root.socket())).collect();
    for c in &mut clients {
        c.send_raw(b"{\"cmd\":\"ping\"}\n");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let reply = c
            .read_response(secs(10))
            .unwrap_or_else(|| panic!("client {i} got no pong"));
        expect_pong(&reply, &format!("client {i}"));
    }
    let took = t.elapsed();
    let during = daemon.fd_count();
    let rss_during = daemon.rss_kb();
    assert!(
        during >= baseline + 200,
        "{during} fds with 200 clients, {baseline} before"
    );
    // Every connection still works for a second request.
    for c in clients.iter_mut().step_by(20) {
        assert_eq!(c.cmd("status")["ok"], true);
    }
    drop(clients);

    let after = daemon.wait_fds_back_to(baseline);
    let rss_after = daemon.rss_kb();
    eprintln!(
        "200 clients: answered in {took:?}; fds {baseline} -> {during} -> {after}; \
         RSS {rss_before} -> {rss_during} -> {rss_after} KiB"
    );
    assert!(
        rss_during < 64 * 1024,
        "{rss_during} KiB RSS with 200 clients"
    );
    assert!(
        rss_after < 64 * 1024,
        "{rss_after} KiB RSS after 200 clients"
    );
    assert_daemon_healthy(&mut daemon, &root);
}

// ---- authorization ----

const NOBODY: u32 = 65534;

/// Fails (never skips) when the suite does not run as root: the permission
/// checks need to switch to another uid.
fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test suite must run as root (CI does): it runs replayctl as uid {NOBODY} \
         to check SO_PEERCRED authorization"
    );
}

/// A copy of replayctl that any user can execute (the build tree may not be
/// reachable for uid 65534).
fn replayctl_copy(root: &TestRoot) -> PathBuf {
    let dest = root.path().join("bin/replayctl");
    if !dest.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_replayctl"), &dest).expect("copy replayctl");
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dest
}

/// Runs replayctl with `--socket` as `uid`/`gid` with exactly `groups` as
/// supplementary groups.
fn replayctl_as(root: &TestRoot, uid: u32, gid: u32, groups: &[u32], args: &[&str]) -> Output {
    let bin = replayctl_copy(root);
    let mut cmd = Command::new(bin);
    cmd.arg("--socket")
        .arg(root.socket())
        .args(args)
        .env_remove("REPLAYD_SOCKET")
        .current_dir("/");
    let list: Vec<libc::gid_t> = groups.to_vec();
    // SAFETY: setgroups/setgid/setuid are async-signal-safe; the groups
    // vector was allocated before fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(list.len(), list.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run replayctl");
    eprintln!(
        "replayctl {args:?} as {uid}:{gid} {groups:?} -> {}\n  stdout: {}\n  stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unprivileged_peers_may_watch_but_not_start_or_stop() {
    require_root();
    let root = TestRoot::builder()
        .admin_group("root")
        .toml(|t| t.socket_mode = Some("0666".into()))
        .build();
    let mut daemon = Daemon::spawn(&root);
    let mode = std::fs::metadata(root.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o666, "socket mode {mode:o}");

    // nobody:nogroup may ping and read status.
    for args in [&["ping"][..], &["status"], &["--json", "status"]] {
        let out = replayctl_as(&root, NOBODY, NOBODY, &[], args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
    }
    let out = replayctl_as(&root, NOBODY, NOBODY, &[], &["--json", "ping"]);
    let pong: Value = serde_json::from_slice(&out.stdout).expect("--json ping output");
    expect_pong(&pong, "replayctl --json ping as nobody");

    // ... but not start or stop.
    for args in [
        &["stop"][..],
        &["start", "front", "--last", "5m"],
        &["start", "--export", "front_x7k2p9"],
        &["start", "front", "--last", "5m", "--no-wait"],
    ] {
        let out = replayctl_as(&root, NOBODY, NOBODY, &[], args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("permission_denied"),
            "{args:?}: stderr {:?}",
            stderr_of(&out)
        );
    }
    let status = Client::connect(root.socket()).cmd("status");
    assert_eq!(status["session"]["active"], false, "{status}");
    assert!(status["job"].is_null(), "{status}");

    // The admin group as primary or supplementary group authorizes: stop is
    // then refused for having nothing to stop, not for permission.
    for (gid, groups) in [(0, vec![]), (NOBODY, vec![0])] {
        let out = replayctl_as(&root, NOBODY, gid, &groups, &["stop"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("not_active"),
            "gid {gid} groups {groups:?}: {:?}",
            stderr_of(&out)
        );
    }
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn default_socket_mode_keeps_other_users_out() {
    require_root();
    let root = TestRoot::builder().admin_group("root").build();
    let mut daemon = Daemon::spawn(&root);
    let meta = std::fs::metadata(root.socket()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660, "default mode");
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&meta),
        0,
        "socket group should be the admin group (root)"
    );
    // Not in the group: cannot even connect (exit 3, cannot reach).
    let out = replayctl_as(&root, NOBODY, NOBODY, &[], &["ping"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    // In the group: may connect and ping.
    let out = replayctl_as(&root, NOBODY, NOBODY, &[0], &["ping"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_daemon_healthy(&mut daemon, &root);
}

/// Opens `n` connections to the control socket as `uid` and pings on each;
/// prints how many were answered, holding them all open until the end.
fn ping_connections_as(root: &TestRoot, uid: u32, n: usize) -> usize {
    use std::os::unix::process::CommandExt;
    let script = format!(
        r#"
import socket, sys
held, ok = [], 0
for i in range({n}):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    try:
        s.connect({sock:?})
        s.sendall(b'{{"cmd":"ping"}}\n')
        if s.recv(4096).startswith(b'{{"ok":true'):
            ok += 1
    except OSError:
        pass
    held.append(s)
print(ok)
"#,
        sock = root.socket().to_string_lossy()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .uid(uid)
        .gid(uid)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn one_user_cannot_take_every_connection() {
    // Issue 10 finding 4: 21,000 connections of a non-admin locked root out.
    require_root();
    let root = TestRoot::builder()
        .toml(|t| {
            t.socket_mode = Some("0666".into());
            t.extra
                .push(("control".into(), "max_clients_per_user".into(), "5".into()));
        })
        .build();
    let mut daemon = Daemon::spawn(&root);
    assert_eq!(ping_connections_as(&root, NOBODY, 8), 5);
    // Root still gets in while nobody's are held (ten times the share).
    let mut c = daemon.client();
    expect_pong(&c.cmd("ping"), "root while nobody holds its share");
    assert!(daemon.log().contains("refusing connections of uid 65534"));
    drop(c);
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_connection_that_only_holds_an_fd_is_closed_after_the_idle_timeout() {
    let root = TestRoot::builder()
        .toml(|t| {
            t.extra.push((
                "control".into(),
                "client_idle_timeout".into(),
                "\"1s\"".into(),
            ))
        })
        .build();
    let mut daemon = Daemon::spawn(&root);
    let baseline = daemon.fd_count();
    let mut idle = UnixStream::connect(root.socket()).expect("connect");
    let mut watcher = Client::subscribe(root.socket());
    let t = Instant::now();
    idle.set_read_timeout(Some(secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let n = idle
        .read(&mut buf)
        .expect("closed by the daemon, not timed out");
    assert_eq!(n, 0, "EOF expected");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < secs(4),
        "{took:?}"
    );
    // A subscriber is kept: it waits for events, not idling.
    std::thread::sleep(Duration::from_millis(1200));
    expect_pong(
        &watcher.cmd("ping"),
        "the subscriber after the idle timeout",
    );
    drop(watcher);
    assert!(wait_until(secs(5), || daemon.fd_count() <= baseline));
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_pipelining_client_that_reads_slowly_gets_every_reply() {
    // Issue 10 finding 5: such a client was cut off after 888 of 10,000.
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let stream = UnixStream::connect(root.socket()).expect("connect");
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let batch = b"{\"cmd\":\"status\"}\n".repeat(10_000);
        w.write_all(&batch).expect("requests written");
    });
    let mut r = std::io::BufReader::new(stream);
    r.get_mut().set_read_timeout(Some(secs(20))).unwrap();
    let mut line = String::new();
    let mut got = 0;
    while got < 10_000 {
        line.clear();
        match std::io::BufRead::read_line(&mut r, &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                assert!(line.starts_with("{\"ok\":true"), "{line}");
                got += 1;
                if got % 500 == 0 {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    assert_eq!(got, 10_000, "replies received");
    writer.join().unwrap();
    assert_daemon_healthy(&mut daemon, &root);
}

#[test]
fn a_stop_while_clients_hold_every_fd_still_cleans_everything() {
    // Issue 10 finding 4: an auto-stop during fd exhaustion cleaned nothing
    // (rows, files and a `ready` session.json were left behind).
    let root = TestRoot::new();
    let mut daemon = Daemon::spawn(&root);
    let mut events = Client::subscribe(root.socket());
    let mut admin = daemon.client();
    let base = root.base_time();
    assert_eq!(start(&mut admin, "front", base, base + 6.0)["ok"], true);
    let done = wait_job_end(&mut events, &daemon);
    assert!(is_job(&done, "success"), "{done}");
    let artifacts = root.add_replay_artifacts("_replay_front");
    let limit = (daemon.fd_count() + 4) as u64;
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", daemon.pid()))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("run prlimit");
    assert!(status.success(), "prlimit failed: {status}");
    // Clients take every descriptor the daemon can give them.
    let mut hogs: Vec<Client> = (0..20)
        .map(|_| Client::try_connect(root.socket()).expect("connect"))
        .collect();
    for c in &mut hogs {
        c.send_raw(b"{\"cmd\":\"subscribe\"}\n");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(daemon.log().contains("accept on control socket failed"));
    let stop = admin.cmd("stop");
    assert_eq!(stop["ok"], true, "{stop}\n{}", daemon.log_report());
    assert_eq!(
        artifacts.remaining_paths(),
        Vec::<PathBuf>::new(),
        "{}",
        daemon.log_report()
    );
    assert!(artifacts.remaining_rows(&root).values().all(|&n| n == 0));
    assert!(!root.replay_dir().join("_replay_front").exists());
    drop(hogs);
    assert_daemon_healthy(&mut daemon, &root);
}
