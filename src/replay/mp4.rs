//! Just enough of an MP4 reader to tell a segment's video parameters (codec,
//! frame size, parameter sets) without running ffprobe on every segment:
//! a 6-hour range has thousands of them, and ffprobe costs ~75 ms each.

use std::io::{self, Read, Seek, SeekFrom};

use super::clip::VideoParams;

/// Largest `moov` read into memory; a segment's is a few KiB.
const MOOV_MAX: u64 = 16 * 1024 * 1024;

/// Top-level boxes walked looking for `moov`. ffmpeg writes four or five
/// (ftyp, free, mdat, moov; a fragmented file puts moov second); a file of
/// millions of tiny boxes would otherwise hold the loop for seconds.
pub const MAX_TOP_LEVEL_BOXES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum Mp4Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no moov box")]
    NoMoov,
    #[error("moov box of {0} bytes is too large")]
    MoovTooLarge(u64),
    #[error("no video track")]
    NoVideo,
    #[error("malformed box {0}")]
    Malformed(&'static str),
    #[error("no moov box in the first {0} boxes")]
    TooManyBoxes(usize),
}

/// The first video track's parameters.
pub fn video_params<R: Read + Seek>(mut file: R) -> Result<VideoParams, Mp4Error> {
    let moov = read_moov(&mut file)?;
    parse_moov(&moov)
}

/// The movie's duration in seconds, from `moov/mvhd` (what ffprobe reports
/// as the format duration of an MP4 that ffmpeg wrote).
pub fn duration<R: Read + Seek>(mut file: R) -> Result<f64, Mp4Error> {
    let moov = read_moov(&mut file)?;
    moov_duration(&moov)
}

/// A segment's video parameters and duration from one read of its `moov`
/// (a range has hundreds of segments: the header is read once each). The
/// error is the read's; either part may still be missing on its own.
pub fn video_params_and_duration<R: Read + Seek>(
    mut file: R,
) -> Result<(Option<VideoParams>, Option<f64>), Mp4Error> {
    let moov = read_moov(&mut file)?;
    Ok((parse_moov(&moov).ok(), moov_duration(&moov).ok()))
}

fn moov_duration(moov: &[u8]) -> Result<f64, Mp4Error> {
    let mvhd = child(moov, b"mvhd").ok_or(Mp4Error::Malformed("mvhd"))?;
    let field = |range: std::ops::Range<usize>| -> Result<u64, Mp4Error> {
        let bytes = mvhd.get(range).ok_or(Mp4Error::Malformed("mvhd"))?;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    // version 0: 32-bit times; version 1: 64-bit creation/modification/duration.
    let (timescale, duration) = match mvhd.first() {
        Some(0) => (field(12..16)?, field(16..20)?),
        Some(1) => (field(20..24)?, field(24..32)?),
        _ => return Err(Mp4Error::Malformed("mvhd")),
    };
    if timescale == 0 {
        return Err(Mp4Error::Malformed("mvhd"));
    }
    Ok(duration as f64 / timescale as f64)
}

/// Walks the top-level boxes (seeking over `mdat`) to the `moov` payload,
/// at most [`MAX_TOP_LEVEL_BOXES`] of them.
fn read_moov<R: Read + Seek>(file: &mut R) -> Result<Vec<u8>, Mp4Error> {
    let end = file.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    file.seek(SeekFrom::Start(0))?;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if pos + 8 > end {
            return Err(Mp4Error::NoMoov);
        }
        let mut header = [0u8; 8];
        file.read_exact(&mut header)?;
        let mut size = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let mut header_len = 8;
        if size == 1 {
            let mut large = [0u8; 8];
            file.read_exact(&mut large)?;
            size = u64::from_be_bytes(large);
            header_len = 16;
        } else if size == 0 {
            size = end - pos;
        }
        // A 64-bit size comes from the file: never let it wrap `pos` around.
        let next = pos.checked_add(size).filter(|&n| n <= end);
        let Some(next) = next.filter(|_| size >= header_len) else {
            return Err(Mp4Error::Malformed("top-level"));
        };
        if &header[4..8] == b"moov" {
            let len = size - header_len;
            if len > MOOV_MAX {
                return Err(Mp4Error::MoovTooLarge(len));
            }
            let mut moov = vec![0u8; len as usize];
            file.read_exact(&mut moov)?;
            return Ok(moov);
        }
        pos = next;
        file.seek(SeekFrom::Start(pos))?;
    }
    if pos + 8 > end {
        Err(Mp4Error::NoMoov)
    } else {
        Err(Mp4Error::TooManyBoxes(MAX_TOP_LEVEL_BOXES))
    }
}

/// The boxes directly inside `data`, as (type, payload).
fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let (size, header) = match size {
            0 => (rest.len(), 8),
            1 if rest.len() >= 16 => {
                let mut large = [0u8; 8];
                large.copy_from_slice(&rest[8..16]);
                (usize::try_from(u64::from_be_bytes(large)).ok()?, 16)
            }
            n => (n, 8),
        };
        if size < header || size > rest.len() {
            return None;
        }
        let kind = &rest[4..8];
        let payload = &rest[header..size];
        rest = &rest[size..];
        Some((kind, payload))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

fn parse_moov(moov: &[u8]) -> Result<VideoParams, Mp4Error> {
    for (kind, trak) in boxes(moov) {
        if kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia") else {
            continue;
        };
        // hdlr: version/flags (4), pre_defined (4), handler_type (4).
        let is_video = child(mdia, b"hdlr").is_some_and(|h| h.get(8..12) == Some(b"vide"));
        if !is_video {
            continue;
        }
        let stsd = child(mdia, b"minf")
            .and_then(|minf| child(minf, b"stbl"))
            .and_then(|stbl| child(stbl, b"stsd"))
            .ok_or(Mp4Error::Malformed("stsd"))?;
        // stsd: version/flags (4), entry_count (4), then sample entries.
        let entry = boxes(stsd.get(8..).ok_or(Mp4Error::Malformed("stsd"))?)
            .next()
            .ok_or(Mp4Error::Malformed("stsd entry"))?;
        return sample_entry(entry.0, entry.1);
    }
    Err(Mp4Error::NoVideo)
}

/// A VisualSampleEntry: 6 reserved + 2 data_reference_index + 16 pre-defined,
/// then width and height, then 50 more bytes before its child boxes.
fn sample_entry(format: &[u8], entry: &[u8]) -> Result<VideoParams, Mp4Error> {
    let width = entry
        .get(24..26)
        .ok_or(Mp4Error::Malformed("sample entry"))?;
    let height = entry
        .get(26..28)
        .ok_or(Mp4Error::Malformed("sample entry"))?;
    let children = entry.get(78..).unwrap_or_default();
    let config = [b"avcC", b"hvcC", b"av1C", b"vpcC"]
        .iter()
        .find_map(|kind| child(children, *kind));
    let codec = match format {
        b"avc1" | b"avc3" => "h264".to_string(),
        b"hvc1" | b"hev1" => "hevc".to_string(),
        b"av01" => "av1".to_string(),
        other => String::from_utf8_lossy(other).into_owned(),
    };
    Ok(VideoParams {
        codec,
        width: u32::from(u16::from_be_bytes([width[0], width[1]])),
        height: u32::from(u16::from_be_bytes([height[0], height[1]])),
        extradata_hash: config.map(|c| format!("{:016x}", fnv1a(c))),
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
