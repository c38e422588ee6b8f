use super::*;
use std::io::Cursor;

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

fn video_file(format: &[u8; 4], width: u16, height: u16, config: &[u8]) -> Vec<u8> {
    let mut entry = vec![0u8; 24];
    entry.extend_from_slice(&width.to_be_bytes());
    entry.extend_from_slice(&height.to_be_bytes());
    entry.extend_from_slice(&[0u8; 50]);
    entry.extend(mp4_box(b"avcC", config));
    let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stsd.extend(mp4_box(format, &entry));
    let stbl = mp4_box(b"stbl", &mp4_box(b"stsd", &stsd));
    let minf = mp4_box(b"minf", &stbl);
    let mut hdlr = vec![0u8; 8];
    hdlr.extend_from_slice(b"vide");
    hdlr.extend_from_slice(&[0u8; 12]);
    let mut mdia = mp4_box(b"hdlr", &hdlr);
    mdia.extend(minf);
    let trak = mp4_box(b"trak", &mp4_box(b"mdia", &mdia));
    let mut file = mp4_box(b"ftyp", b"isom\0\0\0\0");
    file.extend(mp4_box(b"mdat", &[7u8; 1000]));
    file.extend(mp4_box(b"moov", &trak));
    file
}

#[test]
fn reads_codec_size_and_parameter_sets_behind_mdat() {
    let file = video_file(b"avc1", 320, 240, b"\x01\x64\x00\x1f");
    let p = video_params(Cursor::new(file)).unwrap();
    assert_eq!((p.codec.as_str(), p.width, p.height), ("h264", 320, 240));
    assert!(p.extradata_hash.is_some());
    let hevc = video_params(Cursor::new(video_file(b"hvc1", 640, 480, b"x"))).unwrap();
    assert_eq!((hevc.codec.as_str(), hevc.width), ("hevc", 640));
}

#[test]
fn reads_mvhd_duration_in_both_versions() {
    let mut v0 = vec![0u8; 4 + 8];
    v0.extend_from_slice(&1000u32.to_be_bytes());
    v0.extend_from_slice(&61_500u32.to_be_bytes());
    let file = mp4_box(b"moov", &mp4_box(b"mvhd", &v0));
    assert_eq!(duration(Cursor::new(file)).unwrap(), 61.5);
    let mut v1 = vec![1u8, 0, 0, 0];
    v1.extend_from_slice(&[0u8; 16]);
    v1.extend_from_slice(&90_000u32.to_be_bytes());
    v1.extend_from_slice(&(90_000u64 * 3600).to_be_bytes());
    let file = mp4_box(b"moov", &mp4_box(b"mvhd", &v1));
    assert_eq!(duration(Cursor::new(file)).unwrap(), 3600.0);
    let zero = mp4_box(b"moov", &mp4_box(b"mvhd", &[0u8; 20]));
    assert!(duration(Cursor::new(zero)).is_err());
}

#[test]
fn refuses_what_is_not_an_mp4() {
    assert!(matches!(
        video_params(Cursor::new(b"not an mp4 at all".to_vec())),
        Err(Mp4Error::Malformed(_))
    ));
    assert!(matches!(
        video_params(Cursor::new(mp4_box(b"ftyp", b"isom"))),
        Err(Mp4Error::NoMoov)
    ));
    assert!(matches!(
        video_params(Cursor::new(mp4_box(b"moov", &mp4_box(b"trak", b"")))),
        Err(Mp4Error::NoVideo)
    ));
    // A 64-bit box size that would wrap the position around (found by fuzzing).
    let mut wrap = mp4_box(b"ftyp", b"isom\0\0\0\0");
    wrap.extend_from_slice(&[0, 0, 0, 1]);
    wrap.extend_from_slice(b"free");
    wrap.extend_from_slice(&0xffff_ffff_ffff_fff0u64.to_be_bytes());
    assert!(matches!(
        video_params(Cursor::new(wrap)),
        Err(Mp4Error::Malformed(_))
    ));
    let mut file = video_file(b"avc1", 320, 240, b"c");
    file.truncate(file.len() - 30);
    assert!(video_params(Cursor::new(file)).is_err());
}

#[test]
fn reads_real_ffmpeg_output() {
    let dir = std::env::temp_dir().join(format!("replayd-mp4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seg.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x96:rate=5",
        ])
        .args(["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is needed in CI");
        return;
    }
    let p = video_params(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!((p.codec.as_str(), p.width, p.height), ("h264", 160, 96));
    let d = duration(std::fs::File::open(&path).unwrap()).unwrap();
    assert!((d - 1.0).abs() < 0.01, "{d}");
    let _ = std::fs::remove_dir_all(dir);
}

/// 64 MiB of empty 8-byte `free` boxes without the 64 MiB: each read serves
/// the pattern at the current position and is counted.
struct TinyBoxes {
    len: u64,
    pos: u64,
    reads: u64,
}

impl Read for TinyBoxes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        const BOX: [u8; 8] = [0, 0, 0, 8, b'f', b'r', b'e', b'e'];
        let n = buf.len().min(self.len.saturating_sub(self.pos) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = BOX[((self.pos + i as u64) % 8) as usize];
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for TinyBoxes {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        };
        Ok(self.pos)
    }
}

#[test]
fn a_segment_of_tiny_boxes_is_refused_after_a_few_reads() {
    // The attack: a 64 MiB segment of 8-byte boxes kept the loop walking
    // 8 million headers (2.4 s).
    let mut file = TinyBoxes {
        len: 64 * 1024 * 1024,
        pos: 0,
        reads: 0,
    };
    let result = video_params(&mut file);
    assert!(
        file.reads <= 2 * MAX_TOP_LEVEL_BOXES as u64,
        "{} reads for {result:?}",
        file.reads
    );
    assert!(
        matches!(result, Err(Mp4Error::TooManyBoxes(n)) if n == MAX_TOP_LEVEL_BOXES),
        "{result:?}"
    );
    file.reads = 0;
    assert!(matches!(
        duration(&mut file),
        Err(Mp4Error::TooManyBoxes(_))
    ));
    assert!(file.reads <= 2 * MAX_TOP_LEVEL_BOXES as u64);
}

#[test]
fn a_moov_behind_some_boxes_is_still_found() {
    let mut file = Vec::new();
    for _ in 0..MAX_TOP_LEVEL_BOXES - 1 {
        file.extend(mp4_box(b"free", b""));
    }
    file.extend(video_file(b"avc1", 320, 240, b"c"));
    // ftyp, mdat and moov follow the free boxes: moov is box number 66.
    assert!(matches!(
        video_params(Cursor::new(&file)),
        Err(Mp4Error::TooManyBoxes(_))
    ));
    let mut near = Vec::new();
    for _ in 0..MAX_TOP_LEVEL_BOXES - 3 {
        near.extend(mp4_box(b"free", b""));
    }
    near.extend(video_file(b"avc1", 320, 240, b"c"));
    let p = video_params(Cursor::new(near)).expect("moov is box number 64");
    assert_eq!((p.width, p.height), (320, 240));
}
