use super::*;

fn code(line: &str) -> ErrorCode {
    decode_request(line.as_bytes()).unwrap_err().code
}

#[test]
fn decodes_every_command() {
    assert_eq!(decode_request(br#"{"cmd":"ping"}"#), Ok(Request::Ping));
    assert_eq!(decode_request(br#"{"cmd":"status"}"#), Ok(Request::Status));
    assert_eq!(decode_request(br#"{"cmd":"stop"}"#), Ok(Request::Stop));
    assert_eq!(
        decode_request(br#"{"cmd":"subscribe"}"#),
        Ok(Request::Subscribe)
    );
    assert_eq!(
        decode_request(br#"{"cmd":"start","camera":"front","start_time":1,"end_time":2.5}"#),
        Ok(Request::Start {
            camera: "front".into(),
            start_time: 1.0,
            end_time: 2.5,
            options: Default::default(),
        })
    );
    assert_eq!(
        decode_request(br#"{"export_id":"e1","cmd":"start_from_export"}"#),
        Ok(Request::StartFromExport {
            export_id: "e1".into(),
            options: Default::default(),
        })
    );
}

#[test]
fn classifies_bad_requests() {
    let cases = [
        ("not json", ErrorCode::InvalidRequest),
        ("[1,2]", ErrorCode::InvalidRequest),
        ("{}", ErrorCode::InvalidRequest),
        (r#"{"cmd":5}"#, ErrorCode::InvalidRequest),
        (r#"{"cmd":"reboot"}"#, ErrorCode::InvalidRequest),
        (r#"{"cmd":"ping","x":1}"#, ErrorCode::InvalidRequest),
        (
            r#"{"cmd":"start","camera":"a","start_time":1,"end_time":2,"fast":true}"#,
            ErrorCode::InvalidRequest,
        ),
        (r#"{"cmd":"start","camera":"a"}"#, ErrorCode::InvalidParams),
        (
            r#"{"cmd":"start","camera":"a","start_time":"1","end_time":2}"#,
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"cmd":"start","camera":"a","start_time":NaN,"end_time":2}"#,
            ErrorCode::InvalidRequest,
        ),
        (
            r#"{"cmd":"start","camera":"a","start_time":1e999,"end_time":2}"#,
            ErrorCode::InvalidRequest,
        ),
        (
            r#"{"cmd":"start","camera":7,"start_time":1,"end_time":2}"#,
            ErrorCode::InvalidParams,
        ),
        (
            r#"{"cmd":"start_from_export","export_id":null}"#,
            ErrorCode::InvalidParams,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(code(line), want, "{line}");
    }
    assert_eq!(
        decode_request(&[0xff, 0xfe]).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn responses_carry_ok() {
    let line = encode_ok(&Pong {
        version: "1.2.3".into(),
        protocol: 1,
        publisher: None,
    });
    assert!(line.ends_with('\n'));
    let body = decode_response(line.trim_end()).unwrap().unwrap();
    assert_eq!(body["protocol"], 1);
    let err = encode_error(&ErrorBody::new(ErrorCode::NotActive, "no session"));
    let got = decode_response(err.trim_end()).unwrap().unwrap_err();
    assert_eq!(got.code, ErrorCode::NotActive);
    assert_eq!(encode_ok_empty(), "{\"ok\":true}\n");
}

#[test]
fn stopped_job_has_only_camera_names() {
    let job = Job {
        id: STOPPED_JOB_ID.into(),
        job_type: JOB_TYPE.into(),
        status: JobStatus::Cancelled,
        start_time: None,
        end_time: Some(5.0),
        error_message: None,
        results: JobResults {
            source_camera: "front".into(),
            replay_camera_name: "_replay_front".into(),
            ..Default::default()
        },
    };
    let v = serde_json::to_value(&job).unwrap();
    let results = v["results"].as_object().unwrap();
    assert_eq!(results.len(), 2);
    let event = encode_event(&Event::JobState { job });
    assert!(event.starts_with(r#"{"event":"job_state""#));
}

#[test]
fn line_reader_splits_and_bounds() {
    let mut r = LineReader::with_max(8);
    r.push(b"ab\r\ncd");
    assert_eq!(r.next_frame(), Some(Frame::Line(b"ab".to_vec())));
    assert_eq!(r.next_frame(), None);
    r.push(b"efghijkl");
    assert_eq!(r.next_frame(), Some(Frame::TooLong));
    assert_eq!(r.pending(), 0);
    // The rest of the long line is dropped, the next line survives.
    r.push(b"zzzz\nok\n");
    assert_eq!(r.next_frame(), Some(Frame::Line(b"ok".to_vec())));
    assert_eq!(r.next_frame(), None);
    // A line of exactly max bytes whose "\r\n" arrives split.
    r.push(b"12345678\r");
    assert_eq!(r.next_frame(), None);
    r.push(b"\n");
    assert_eq!(r.next_frame(), Some(Frame::Line(b"12345678".to_vec())));
    // A long line that arrives whole with its newline.
    r.push(b"0123456789\nx\n");
    assert_eq!(r.next_frame(), Some(Frame::TooLong));
    assert_eq!(r.next_frame(), Some(Frame::Line(b"x".to_vec())));
}

#[test]
fn error_messages_stay_short_whatever_the_peer_sent() {
    let line = format!(
        r#"{{"cmd":"start","camera":"a","start_time":"{}","end_time":2}}"#,
        "x".repeat(60_000)
    );
    let error = decode_request(line.as_bytes()).unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidParams);
    assert!(error.message.len() < 400, "{}", error.message.len());
}

#[test]
fn printable_escapes_controls() {
    assert_eq!(printable("a\nb"), "a\\nb");
    assert!(printable(&"x".repeat(100)).ends_with('…'));
}
