use super::*;
use std::os::unix::net::UnixListener;

fn temp_socket(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("replayctl-{}-{name}.sock", std::process::id()))
}

#[test]
fn missing_socket_says_not_running() {
    let path = temp_socket("missing");
    let err = Conn::connect(&path, Duration::from_secs(1))
        .err()
        .expect("no socket");
    assert!(err.to_string().contains("not running"), "{err}");
}

#[test]
fn request_and_bounded_lines() {
    let path = temp_socket("echo");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut req = [0u8; 64];
        let n = s.read(&mut req).expect("read");
        assert_eq!(&req[..n], b"{\"cmd\":\"ping\"}\n");
        s.write_all(b"{\"ok\":true,\"version\":\"0.1.0\",\"protocol\":1}\n")
            .expect("write");
        s.write_all(&vec![b'x'; crate::protocol::MAX_LINE + 10])
            .expect("write");
    });
    let mut conn = Conn::connect(&path, Duration::from_secs(5)).expect("connect");
    let answer = conn.call(&Request::Ping).expect("call");
    assert_eq!(answer.result.expect("ok")["version"], "0.1.0");
    assert!(matches!(conn.next_line(), Err(ConnError::TooLong)));
    server.join().expect("server");
    assert!(matches!(conn.next_line(), Err(ConnError::Closed)));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn silent_daemon_times_out() {
    let path = temp_socket("silent");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let mut conn = Conn::connect(&path, Duration::from_millis(200)).expect("connect");
    assert!(matches!(
        conn.call(&Request::Status),
        Err(ConnError::Timeout(_))
    ));
    drop(listener);
    let _ = std::fs::remove_file(&path);
}
