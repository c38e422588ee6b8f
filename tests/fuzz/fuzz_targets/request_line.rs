//! The control socket's input path, byte stream to reply line: arbitrary
//! bytes, split by the fuzzer into arbitrary `read()` chunks, go through
//! `protocol::LineReader` exactly as `Client::read_input` and
//! `Daemon::process_lines` use it, and every frame through
//! `protocol::decode_request`.
//!
//! Checked:
//! - the reader never holds more than its cap + 1 (a line's "\r") + one
//!   chunk, and after draining more than the cap only for that "\r";
//! - the frames do not depend on how the stream was split (compared with the
//!   same bytes pushed in one piece);
//! - every `Ok` request re-encodes (`encode_request`) to one line that
//!   decodes to an equal request;
//! - every `Err` has a non-empty message without control characters, and
//!   `encode_error` makes one JSON line that `decode_response` reads back
//!   as the same error;
//! - `encode_ok` / `encode_event` of bodies built from the request make one
//!   JSON line that reads back equal;
//! - `printable` escapes every control character and stays bounded;
//! - the dispatcher's pure parts: `Request::is_privileged` and
//!   `daemon::control::is_admin` agree on who may start and stop, and
//!   `daemon::errors::error_body` gives each error its code and a wire line.
//!
//! Input layout: byte 0 picks the reader's cap (< 128: cap = byte + 1, so
//! the too-long paths are reachable with small inputs; otherwise the real
//! `MAX_LINE`), byte 1 is a bit mask of the chunks after which the frames
//! are drained (the daemon also drains whenever more than the cap + 1 is
//! held),
//! then the chunk plan of `common::split_plan`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use replayd::daemon::control::{self, Peer};
use replayd::replay::errors::{error_body, RequestError};
use replayd::protocol::{
    self, ErrorBody, ErrorCode, Event, Frame, LineReader, Request, SessionState, SessionView,
    StartReply, StatusReply, MAX_LINE,
};
use replayd::replay::camera;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [cap_byte, drain_mask, rest @ ..] = data else {
        return;
    };
    let max = if *cap_byte < 128 {
        usize::from(*cap_byte) + 1
    } else {
        MAX_LINE
    };
    let (lengths, payload) = common::split_plan(rest);

    // The stream as the daemon sees it, read by read.
    let mut reader = LineReader::with_max(max);
    let mut frames = Vec::new();
    for (i, chunk) in common::chunks(&lengths, payload).into_iter().enumerate() {
        reader.push(chunk);
        // At most one line and its "\r" were held before this chunk.
        assert!(
            reader.pending() <= max + 1 + chunk.len(),
            "reader holds {} bytes with cap {max} after a chunk of {}",
            reader.pending(),
            chunk.len()
        );
        // Client::read_input stops reading once more than the cap + 1 is
        // held, and process_lines then drains; otherwise the split decides.
        if reader.pending() > max + 1 || drain_mask & (1 << (i % 8)) != 0 {
            drain(&mut reader, &mut frames, max, chunk.last());
        }
    }
    drain(&mut reader, &mut frames, max, payload.last());

    // The same bytes in one piece.
    let mut whole = LineReader::with_max(max);
    whole.push(payload);
    let mut reference = Vec::new();
    drain(&mut whole, &mut reference, max, payload.last());
    assert_same_frames(&frames, &reference, max);

    for frame in &frames {
        match frame {
            Frame::TooLong => {
                // The reply process_lines sends.
                let error = ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    format!("request line longer than {} bytes", MAX_LINE),
                );
                check_error(&error);
            }
            // process_lines skips blank lines without a reply.
            Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => {}
            Frame::Line(line) => check_line(line),
        }
    }
});

/// Takes every frame the reader has; `last` is the last byte pushed so far
/// (what the reader's buffer ends with, if it holds anything).
fn drain(reader: &mut LineReader, frames: &mut Vec<Frame>, max: usize, last: Option<&u8>) {
    while let Some(frame) = reader.next_frame() {
        if let Frame::Line(line) = &frame {
            assert!(
                line.len() <= max,
                "a {}-byte line passed cap {max}",
                line.len()
            );
            assert!(!line.contains(&b'\n'), "newline inside a frame");
        }
        frames.push(frame);
    }
    // Only a line of exactly the cap may wait for the "\n" of its "\r\n".
    let held = reader.pending();
    assert!(
        held <= max || (held == max + 1 && last == Some(&b'\r')),
        "{held} bytes held after draining (cap {max})"
    );
}

/// Chunking must not change the frames. (It did until 643a1e7: a line of
/// exactly the cap whose "\r\n" was split between two reads was TooLong;
/// seed cr_at_cap.)
fn assert_same_frames(chunked: &[Frame], whole: &[Frame], max: usize) {
    assert!(
        chunked == whole,
        "frames depend on the chunking (cap {max}):\n chunked: {}\n whole:   {}",
        show(chunked),
        show(whole)
    );
}

fn show(frames: &[Frame]) -> String {
    frames
        .iter()
        .map(|f| match f {
            Frame::TooLong => "TooLong".to_string(),
            Frame::Line(l) => format!("Line({:?})", String::from_utf8_lossy(l)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_line(line: &[u8]) {
    match protocol::decode_request(line) {
        Ok(request) => {
            check_request(&request);
            check_dispatch(&request, line.len());
        }
        Err(error) => {
            assert!(!error.message.is_empty(), "error without a message");
            common::assert_no_controls("error message", &error.message);
            check_error(&error);
        }
    }
}

fn check_request(request: &Request) {
    // Round trip through the client's encoder.
    let encoded = protocol::encode_request(request);
    common::assert_wire_line(&encoded);
    let again = protocol::decode_request(encoded.trim_end_matches('\n').as_bytes());
    assert_eq!(again.as_ref(), Ok(request), "round trip of {encoded:?}");

    let privileged = matches!(
        request,
        Request::Start { .. } | Request::StartFromExport { .. } | Request::Stop
    );
    assert_eq!(request.is_privileged(), privileged, "{request:?}");

    match request {
        Request::Start {
            camera: name,
            start_time,
            end_time,
        } => {
            assert!(start_time.is_finite() && end_time.is_finite());
            check_printable(name);
            // What status would report for a session of this request.
            let mut session = SessionView::idle();
            session.active = true;
            session.state = SessionState::PreparingClip;
            session.replay_camera = Some(replayd::replay::names::replay_name(name));
            session.source_camera = Some(name.clone());
            session.start_time = Some(*start_time);
            session.end_time = Some(*end_time);
            let status = StatusReply {
                session,
                job: None,
                last_summary: None,
            };
            check_ok(&status);
            check_ok(&StartReply {
                replay_camera: replayd::replay::names::replay_name(name),
                job_id: name.clone(),
            });
            check_event(&Event::Camera {
                action: protocol::CameraAction::Add,
                camera: name.clone(),
                config: Some(serde_json::Value::String(name.clone())),
            });
        }
        Request::StartFromExport { export_id } => {
            check_printable(export_id);
            check_error(&ErrorBody::new(
                ErrorCode::NotFound,
                format!("export '{}' does not exist", protocol::printable(export_id)),
            ));
        }
        Request::Ping | Request::Status | Request::Stop | Request::Subscribe => {}
    }
}

/// The dispatcher's pure parts (`Daemon::route` itself needs a running
/// daemon): the privilege gate, and `daemon::errors::error_body`, the one
/// function through which every request error reaches the wire, over each
/// variant filled with the peer's own strings and numbers.
fn check_dispatch(request: &Request, salt: usize) {
    // Root, a member of the admin group (primary or supplementary), or
    // neither. The groups are given (as SO_PEERGROUPS gives them), so
    // is_admin never reads /proc.
    let admin = (salt & 2 != 0).then(|| nix::unistd::Gid::from_raw(1001));
    let groups = if salt & 8 != 0 {
        vec![27, 1001]
    } else {
        vec![27]
    };
    let peer = Peer {
        pid: i32::MAX,
        uid: if salt & 1 != 0 { 0 } else { 1000 },
        gid: if salt & 4 != 0 { 1001 } else { 1000 },
        groups: Some(groups.clone()),
    };
    let admitted =
        peer.uid == 0 || (admin.is_some() && (peer.gid == 1001 || groups.contains(&1001)));
    if request.is_privileged() {
        assert_eq!(control::is_admin(&peer, admin), admitted, "{peer:?}");
    }

    let (text, start, end) = match request {
        Request::Start {
            camera,
            start_time,
            end_time,
        } => (camera.clone(), *start_time, *end_time),
        Request::StartFromExport { export_id } => (export_id.clone(), 0.0, 0.0),
        _ => return,
    };
    let cases = [
        (
            RequestError::InvalidParams(format!(
                "camera name '{}' is invalid",
                protocol::printable(&text)
            )),
            ErrorCode::InvalidParams,
        ),
        (RequestError::NotFound(text.clone()), ErrorCode::NotFound),
        (
            RequestError::NoRecordings {
                camera: text.clone(),
                start,
                end,
            },
            ErrorCode::NoRecordings,
        ),
        (
            RequestError::NoSpace {
                dir: text.clone().into(),
                need: salt as u64,
                available: 0,
            },
            ErrorCode::NoSpace,
        ),
        (
            RequestError::AlreadyActive(text.clone()),
            ErrorCode::AlreadyActive,
        ),
        (RequestError::NotActive, ErrorCode::NotActive),
        (
            RequestError::PermissionDenied(text.clone()),
            ErrorCode::PermissionDenied,
        ),
        (
            RequestError::io(text.clone(), std::io::Error::other(text.clone())),
            ErrorCode::Internal,
        ),
    ];
    for (error, code) in cases {
        let body = error_body(&error);
        assert_eq!(body.code, code, "{error:?}");
        assert!(!body.message.is_empty(), "{error:?}");
        check_error(&body);
    }
}

fn check_error(error: &ErrorBody) {
    let line = protocol::encode_error(error);
    let value = common::assert_wire_line(&line);
    assert_eq!(value["ok"], serde_json::Value::Bool(false));
    assert_eq!(value["error"]["code"].as_str(), Some(error.code.as_str()));
    let back = protocol::decode_response(line.trim_end_matches('\n'))
        .unwrap_or_else(|e| panic!("client cannot read {line:?}: {e}"));
    assert_eq!(back, Err(error.clone()), "{line:?}");
}

fn check_ok<T>(body: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let line = protocol::encode_ok(body);
    let value = common::assert_wire_line(&line);
    assert_eq!(value["ok"], serde_json::Value::Bool(true));
    let back = protocol::decode_response(line.trim_end_matches('\n'))
        .unwrap_or_else(|e| panic!("client cannot read {line:?}: {e}"))
        .unwrap_or_else(|e| panic!("success read as error {e}: {line:?}"));
    let back: T = serde_json::from_value(back).expect("body reads back");
    assert_eq!(&back, body, "{line:?}");
}

fn check_event(event: &Event) {
    let line = protocol::encode_event(event);
    common::assert_wire_line(&line);
    let back: Event = serde_json::from_str(line.trim_end_matches('\n')).expect("event reads back");
    assert_eq!(&back, event);
}

/// `printable` (used wherever peer input is echoed): no control characters,
/// at most 64 input characters, each escaped to at most 10 (`\u{10ffff}`),
/// plus `…` when cut.
fn check_printable(s: &str) {
    let p = protocol::printable(s);
    common::assert_no_controls("printable()", &p);
    let n = p.chars().count();
    assert!(n <= 64 * 10 + 1, "printable() gave {n} chars");
    assert!(
        p.chars().all(|c| c.is_ascii() || c == '…'),
        "printable() let a non-ASCII character through: {p:?}"
    );
    if s.chars().count() <= 64
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !"\\'\"".contains(c))
    {
        assert_eq!(p, s);
    }
}
