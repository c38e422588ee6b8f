//! Helpers shared by the targets (each target includes this file as a module).

#![allow(dead_code)]

/// Splits a fuzz input into a list of chunk lengths and the payload.
///
/// Layout: byte 0 = number of lengths `n` (taken modulo 9, so 0..=8), then
/// `n` bytes, each a chunk length (a zero byte means 1); the rest is the
/// payload. The payload is fed in chunks of those lengths, cycling through
/// the list; an empty list feeds it in one piece. This lets the fuzzer pick
/// the split points of a byte stream, the way `read()` would.
pub fn split_plan(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = (n % 9) as usize;
    let n = n.min(rest.len());
    let lengths = rest[..n].iter().map(|&b| usize::from(b).max(1)).collect();
    (lengths, &rest[n..])
}

/// `payload` cut into the chunks of `lengths` (see [`split_plan`]).
pub fn chunks<'a>(lengths: &[usize], payload: &'a [u8]) -> Vec<&'a [u8]> {
    if lengths.is_empty() {
        return vec![payload];
    }
    let mut out = Vec::new();
    let mut rest = payload;
    let mut i = 0;
    while !rest.is_empty() {
        let take = lengths[i % lengths.len()].min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        out.push(chunk);
        rest = tail;
        i += 1;
    }
    out
}

/// A protocol line as the wire must carry it: exactly one `\n`, at the end,
/// and before it one JSON object.
pub fn assert_wire_line(line: &str) -> serde_json::Value {
    assert!(line.ends_with('\n'), "line without newline: {line:?}");
    let body = &line[..line.len() - 1];
    assert!(
        !body.contains('\n') && !body.contains('\r'),
        "line break inside a wire line: {line:?}"
    );
    let value: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("wire line is not JSON ({e}): {line:?}"));
    assert!(value.is_object(), "wire line is not an object: {line:?}");
    value
}

/// No C0/C1 control character (log forging: a peer's `\n` or ESC must never
/// reach a log line raw).
pub fn assert_no_controls(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        panic!("{what} holds the control character {c:?}: {text:?}");
    }
}
