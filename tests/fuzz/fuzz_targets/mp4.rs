//! A recording segment's MP4 header, as `start` reads it for every segment
//! (`replay::mp4::video_params`, in the daemon's single thread): arbitrary
//! bytes as the file.
//!
//! Checked: no panic (debug assertions are on, so an arithmetic overflow
//! is one) and no hang (libFuzzer's -timeout); a result with a video track
//! has a non-empty codec name.
//!
//! Input: the file's bytes.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use replayd::replay::mp4;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = mp4::video_params(Cursor::new(data)) {
        assert!(!params.codec.is_empty(), "{params:?}");
    }
});
