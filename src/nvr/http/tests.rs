use super::*;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::net::{Shutdown, TcpListener};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Seconds since the first call: the tests' stand-in for the boot-time clock.
fn now() -> f64 {
    use std::sync::OnceLock;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Drives an exchange the way the daemon's loop does: poll the fd for what
/// it wants, until a result or the deadline.
fn drive(mut exchange: Exchange) -> Result<Response, HttpError> {
    loop {
        if exchange.timed_out(now()) {
            return Err(exchange.timeout_error());
        }
        let mut flags = PollFlags::empty();
        if exchange.wants_read() {
            flags |= PollFlags::POLLIN;
        }
        if exchange.wants_write() {
            flags |= PollFlags::POLLOUT;
        }
        let wait_ms = ((exchange.deadline() - now()).max(0.0) * 1000.0).ceil() as u32 + 1;
        let mut fds = [PollFd::new(exchange.fd(), flags)];
        let ready = poll(&mut fds, PollTimeout::try_from(wait_ms).unwrap()).unwrap();
        if ready > 0 {
            if let Some(result) = exchange.on_ready() {
                return result;
            }
        }
    }
}

/// One exchange against `endpoint`, with a short timeout.
fn run(endpoint: &Endpoint, request: &Request, timeout: Duration) -> Result<Response, HttpError> {
    drive(Exchange::start(endpoint, request, now(), timeout)?)
}

fn get(path: &str) -> Request {
    Request {
        method: Method::Get,
        path: path.into(),
        body: None,
        bearer: None,
        cache_bypass: false,
    }
}

/// Reads one request (head, and a body by Content-Length) off `stream`.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return data;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// A one-connection server: reads the request, hands the stream to `reply`,
/// returns what it read.
fn serve(reply: impl FnOnce(&mut TcpStream) + Send + 'static) -> (Endpoint, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request(&mut stream);
        reply(&mut stream);
        request
    });
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    (endpoint, handle)
}

fn serve_bytes(bytes: &'static [u8]) -> (Endpoint, JoinHandle<Vec<u8>>) {
    serve(move |s| {
        s.write_all(bytes).unwrap();
    })
}

const SHORT: Duration = Duration::from_secs(5);

// ---- replies ----

#[test]
fn content_length_reply() {
    let (endpoint, server) = serve_bytes(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"ok\": true}\n",
    );
    let response = run(&endpoint, &get("/api/config"), SHORT).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"{\"ok\": true}\n");
    assert_eq!(response.content_type.as_deref(), Some("application/json"));
    assert!(response.is_json());
    server.join().unwrap();
}

#[test]
fn content_length_reply_does_not_wait_for_the_close() {
    let (endpoint, server) = serve(|s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        // Keep the connection open past the client's timeout.
        thread::sleep(Duration::from_millis(800));
    });
    let response = run(&endpoint, &get("/"), Duration::from_millis(400)).unwrap();
    assert_eq!(response.body, b"ok");
    server.join().unwrap();
}

#[test]
fn chunked_reply() {
    let (endpoint, server) = serve_bytes(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n\
          5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    let response = run(&endpoint, &get("/"), SHORT).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello, world");
    assert!(!response.is_json());
    server.join().unwrap();
}

#[test]
fn eof_delimited_reply() {
    let (endpoint, server) =
        serve_bytes(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n0.17.2-abcdef0");
    let response = run(&endpoint, &get("/api/version"), SHORT).unwrap();
    assert_eq!(response.body, b"0.17.2-abcdef0");
    server.join().unwrap();
}

#[test]
fn reply_in_one_byte_writes() {
    for reply in [
        &b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nabcde"[..],
        &b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"[..],
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\nabcde"[..],
    ] {
        let (endpoint, server) = serve(move |s| {
            s.set_nodelay(true).unwrap();
            for byte in reply {
                s.write_all(&[*byte]).unwrap();
                thread::sleep(Duration::from_micros(200));
            }
        });
        let response = run(&endpoint, &get("/"), SHORT).unwrap();
        assert_eq!((response.status, &response.body[..]), (201, &b"abcde"[..]));
        server.join().unwrap();
    }
}

#[test]
fn garbage_reply() {
    let (endpoint, server) = serve_bytes(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(matches!(err, HttpError::Garbage(_)), "{err:?}");
    assert!(err.request_may_have_arrived());
    server.join().unwrap();
}

#[test]
fn oversized_reply_by_its_length() {
    let (endpoint, server) = serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 4194305\r\n\r\n");
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(
        matches!(err, HttpError::TooLarge { limit: MAX_BODY }),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn oversized_reply_that_never_ends() {
    let (endpoint, server) = serve(|s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
        let block = vec![b'x'; 64 << 10];
        // Until the client gives up and the writes fail.
        for _ in 0..(2 * MAX_BODY / block.len()) {
            if s.write_all(&block).is_err() {
                break;
            }
        }
    });
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { .. }), "{err:?}");
    server.join().unwrap();
}

#[test]
fn server_that_never_answers_times_out() {
    let (endpoint, server) = serve(|_| thread::sleep(Duration::from_millis(700)));
    let started = Instant::now();
    let err = run(&endpoint, &get("/"), Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::Timeout {
                stage: Stage::Waiting,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.request_may_have_arrived());
    assert!(started.elapsed() < Duration::from_millis(600));
    server.join().unwrap();
}

#[test]
fn server_that_closes_mid_reply() {
    let (endpoint, server) =
        serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::ConnectionLost {
                stage: Stage::Waiting,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.request_may_have_arrived());
    server.join().unwrap();
}

#[test]
fn server_that_closes_without_a_reply() {
    let (endpoint, server) = serve(|s| s.shutdown(Shutdown::Both).unwrap());
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(matches!(err, HttpError::ConnectionLost { .. }), "{err:?}");
    server.join().unwrap();
}

#[test]
fn server_that_closes_mid_chunk() {
    let (endpoint, server) =
        serve_bytes(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    assert!(matches!(err, HttpError::ConnectionLost { .. }), "{err:?}");
    server.join().unwrap();
}

#[test]
fn connection_refused() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    // Loopback may refuse at connect() already, or on the first readiness.
    let err = run(&endpoint, &get("/"), SHORT).unwrap_err();
    match &err {
        HttpError::Connect { source, .. } => {
            assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused)
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.request_may_have_arrived());
}

#[test]
fn a_refused_address_falls_through_to_the_next() {
    let (mut endpoint, server) = serve_bytes(b"HTTP/1.1 204 No Content\r\n\r\n");
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    endpoint.addrs.insert(0, closed);
    let response = run(&endpoint, &get("/"), SHORT).unwrap();
    assert_eq!((response.status, response.body.len()), (204, 0));
    server.join().unwrap();
}

#[test]
fn ipv6_loopback() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return; // no IPv6 on this machine
    };
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let request = read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        request
    });
    let endpoint = Endpoint::parse(&format!("http://[::1]:{port}")).unwrap();
    let response = run(&endpoint, &get("/"), SHORT).unwrap();
    assert_eq!(response.status, 200);
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        request.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
        "{request}"
    );
}

// ---- the request on the wire ----

#[test]
fn request_headers() {
    let (endpoint, server) = serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let request = Request {
        method: Method::Put,
        path: "/api/config/set".into(),
        body: Some(b"{\"a\":1}".to_vec()),
        bearer: Some("eyJ.abc.def".into()),
        cache_bypass: true,
    };
    run(&endpoint, &request, SHORT).unwrap();
    let sent = String::from_utf8(server.join().unwrap()).unwrap();
    let port = endpoint.port();
    let expected = format!(
        "PUT /api/config/set HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         User-Agent: replayd/{}\r\n\
         Accept: application/json\r\n\
         Connection: close\r\n\
         Authorization: Bearer eyJ.abc.def\r\n\
         X-Cache-Bypass: 1\r\n\
         Content-Type: application/json\r\n\
         Content-Length: 7\r\n\
         \r\n\
         {{\"a\":1}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sent, expected);
    assert!(!sent.to_ascii_lowercase().contains("origin"));
}

#[test]
fn get_and_delete_carry_no_body_headers() {
    let endpoint = Endpoint::parse("http://127.0.0.1:5000/frigate/").unwrap();
    let mut request = get("/api/version");
    let bytes = String::from_utf8(request.encode(&endpoint).unwrap()).unwrap();
    assert!(
        bytes.starts_with("GET /frigate/api/version HTTP/1.1\r\n"),
        "{bytes}"
    );
    assert!(!bytes.contains("Content-"), "{bytes}");
    assert!(!bytes.contains("Authorization"), "{bytes}");
    assert!(!bytes.contains("X-Cache-Bypass"), "{bytes}");
    request.method = Method::Delete;
    let bytes = String::from_utf8(request.encode(&endpoint).unwrap()).unwrap();
    assert!(!bytes.contains("Content-"), "{bytes}");
    request.method = Method::Put;
    let bytes = String::from_utf8(request.encode(&endpoint).unwrap()).unwrap();
    assert!(bytes.contains("\r\nContent-Length: 0\r\n"), "{bytes}");
}

#[test]
fn a_token_or_path_that_would_break_the_request_is_refused() {
    let endpoint = Endpoint::parse("http://127.0.0.1:5000").unwrap();
    for request in [
        get("api/version"),
        get("/api/version HTTP/1.1\r\nOrigin: x"),
        get("/api/ver sion"),
        get("/").with_bearer(Some("abc\r\nOrigin: evil".into())),
        get("/").with_bearer(Some(String::new())),
    ] {
        let err = Exchange::start(&endpoint, &request, 0.0, SHORT)
            .err()
            .unwrap();
        assert!(matches!(err, HttpError::BadRequest(_)), "{err:?}");
    }
}

// ---- URLs ----

#[test]
fn endpoint_parse() {
    let ok = |url: &str| Endpoint::parse(url).unwrap();
    let e = ok("http://127.0.0.1:5000");
    assert_eq!(
        (e.host(), e.port(), e.base_path.as_str()),
        ("127.0.0.1", 5000, "")
    );
    assert_eq!(
        e.addrs(),
        &["127.0.0.1:5000".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(e.to_string(), "http://127.0.0.1:5000");
    let e = ok("HTTP://[::1]:5000/");
    assert_eq!((e.host(), e.port()), ("[::1]", 5000));
    assert_eq!(e.addrs(), &["[::1]:5000".parse::<SocketAddr>().unwrap()]);
    let e = ok("http://127.0.0.1");
    assert_eq!((e.port(), e.host_header()), (80, "127.0.0.1".to_string()));
    let e = ok("http://localhost:5000/frigate/");
    assert_eq!(e.base_path, "/frigate");
    assert!(e
        .addrs()
        .iter()
        .all(|a| a.ip().is_loopback() && a.port() == 5000));
    assert!(!e.addrs().is_empty());
}

#[test]
fn endpoint_parse_refusals() {
    for (url, why) in [
        ("https://127.0.0.1:8971", "https is not supported"),
        ("ftp://127.0.0.1", "only http"),
        ("127.0.0.1:5000", "expected http://"),
        ("http://admin:pw@127.0.0.1:5000", "token_file"),
        ("http://127.0.0.1:5000/?x=1", "query"),
        ("http://127.0.0.1:0", "not a port"),
        ("http://127.0.0.1:65536", "not a port"),
        ("http://127.0.0.1:", "not a port"),
        ("http://:5000", "no host"),
        ("http://::1:5000", "brackets"),
        ("http://[::1", "closing"),
        ("http://[zz]:5000", "not an IPv6"),
        ("http://[::1]5000", "':PORT'"),
        ("http://ho st:5000", "not a host name"),
        ("http://127.0.0.1:5000/a b", "spaces"),
        ("http://no-such-host.invalid:5000", "cannot resolve"),
    ] {
        match Endpoint::parse(url) {
            Err(HttpError::BadUrl { reason, .. }) => {
                assert!(reason.contains(why), "{url}: {reason}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

// ---- framing, without sockets ----

fn read_all(chunks: &[&[u8]]) -> Result<Option<Response>, HttpError> {
    let mut reader = ReplyReader::default();
    for chunk in chunks {
        if let Some(response) = reader.feed(chunk)? {
            return Ok(Some(response));
        }
    }
    Ok(None)
}

#[test]
fn framing_rules() {
    let body = |r: Result<Option<Response>, HttpError>| r.unwrap().map(|r| r.body);
    // 204 and 304 have no body whatever their headers say.
    assert_eq!(
        body(read_all(&[b"HTTP/1.1 204 No Content\r\n\r\n"])),
        Some(vec![])
    );
    assert_eq!(
        body(read_all(&[
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
        ])),
        Some(vec![])
    );
    // A complete reply leaves trailing bytes alone.
    assert_eq!(
        body(read_all(&[
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"
        ])),
        Some(b"ok".to_vec())
    );
    // Chunked wins over a Content-Length.
    assert_eq!(
        body(read_all(&[
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"2\r\nok\r\n0\r\n\r\n"
        ])),
        Some(b"ok".to_vec())
    );
    // Incomplete: more is needed.
    assert_eq!(body(read_all(&[b"HTTP/1.1 200 OK\r\nContent-Le"])), None);
}

#[test]
fn framing_refusals() {
    let garbage = |chunks: &[&[u8]]| {
        let err = read_all(chunks).unwrap_err();
        assert!(matches!(err, HttpError::Garbage(_)), "{chunks:?}: {err:?}");
    };
    garbage(&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"]);
    garbage(&[b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"]);
    garbage(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"]);
    garbage(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]);
    garbage(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n"]);
    garbage(&[b"HTTP/1.1 101 Switching Protocols\r\n\r\n"]);
    garbage(&[b"<html>502 Bad Gateway</html>"]);
    let too_many: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
    garbage(&[format!("HTTP/1.1 200 OK\r\n{too_many}\r\n").as_bytes()]);

    let too_large = |chunks: &[&[u8]]| {
        let err = read_all(chunks).unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err:?}");
    };
    let long_header = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD + 1));
    too_large(&[long_header.as_bytes()]);
    too_large(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400001\r\n"]);
    too_large(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"]);
}

#[test]
fn eof_completes_only_an_eof_delimited_body() {
    let mut reader = ReplyReader::default();
    assert!(reader.feed(b"HTTP/1.1 200 OK\r\n\r\nab").unwrap().is_none());
    assert_eq!(reader.finish_at_eof().unwrap().body, b"ab");

    for partial in [
        &b""[..],
        b"HTTP/1.1 200",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
    ] {
        let mut reader = ReplyReader::default();
        assert!(reader.feed(partial).unwrap().is_none());
        let err = reader.finish_at_eof().unwrap_err();
        assert!(matches!(err, HttpError::ConnectionLost { .. }), "{err:?}");
    }
}
