use super::*;
use std::ffi::OsStr;

fn seg(path: &str, start_time: f64, end_time: f64) -> Segment {
    Segment {
        path: PathBuf::from(path),
        start_time,
        end_time,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn close_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// (path, inpoint, outpoint, start_offset, covers)
type Row = (&'static str, Option<f64>, Option<f64>, f64, f64);
/// (name, segments, start, end, expected entries)
type PlanCase = (&'static str, Vec<Segment>, f64, f64, Vec<Row>);

fn assert_plan(name: &str, got: &ClipPlan, want: &[Row]) {
    assert_eq!(got.entries.len(), want.len(), "{name}: {got:#?}");
    for (i, (e, w)) in got.entries.iter().zip(want).enumerate() {
        let ok = e.path == Path::new(w.0)
            && close_opt(e.inpoint, w.1)
            && close_opt(e.outpoint, w.2)
            && close(e.start_offset, w.3)
            && close(e.covers, w.4);
        assert!(ok, "{name}: entry {i}: got {e:?}, want {w:?}");
    }
    let sum: f64 = want.iter().map(|w| w.4).sum();
    assert!(close(got.expected_duration, sum), "{name}: {got:?}");
}

#[test]
fn plan_table() {
    let three = [
        seg("/r/a.mp4", 100.0, 110.0),
        seg("/r/b.mp4", 110.0, 120.0),
        seg("/r/c.mp4", 120.0, 130.0),
    ];
    let gaps = [
        seg("/r/a.mp4", 100.0, 110.0),
        seg("/r/b.mp4", 115.0, 125.0),
        seg("/r/c.mp4", 130.0, 140.0),
    ];
    let duplicate = [
        seg("/r/a.mp4", 100.0, 110.0),
        seg("/r/a2.mp4", 102.0, 108.0),
        seg("/r/b.mp4", 110.0, 120.0),
    ];
    let cases: Vec<PlanCase> = vec![
        (
            "a segment inside an earlier one is a duplicate",
            duplicate.to_vec(),
            105.0,
            115.0,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, Some(5.0), 5.0, 5.0),
            ],
        ),
        (
            "inside one segment",
            three.to_vec(),
            112.0,
            115.0,
            vec![("/r/b.mp4", Some(2.0), Some(5.0), 0.0, 3.0)],
        ),
        (
            "spanning several",
            three.to_vec(),
            105.0,
            125.0,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, None, 5.0, 10.0),
                ("/r/c.mp4", None, Some(5.0), 15.0, 5.0),
            ],
        ),
        (
            "exactly whole segments",
            three.to_vec(),
            100.0,
            130.0,
            vec![
                ("/r/a.mp4", None, None, 0.0, 10.0),
                ("/r/b.mp4", None, None, 10.0, 10.0),
                ("/r/c.mp4", None, None, 20.0, 10.0),
            ],
        ),
        (
            "gaps are not in the clip",
            gaps.to_vec(),
            105.0,
            135.0,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, None, 5.0, 10.0),
                ("/r/c.mp4", None, Some(5.0), 15.0, 5.0),
            ],
        ),
        (
            "start in a gap",
            gaps.to_vec(),
            112.0,
            120.0,
            vec![("/r/b.mp4", None, Some(5.0), 0.0, 5.0)],
        ),
        (
            "range entirely in a gap",
            gaps.to_vec(),
            111.0,
            114.0,
            vec![],
        ),
        (
            "start before the first segment",
            three.to_vec(),
            90.0,
            115.0,
            vec![
                ("/r/a.mp4", None, None, 0.0, 10.0),
                ("/r/b.mp4", None, Some(5.0), 10.0, 5.0),
            ],
        ),
        (
            "end after the last segment",
            three.to_vec(),
            125.0,
            200.0,
            vec![("/r/c.mp4", Some(5.0), None, 0.0, 5.0)],
        ),
        (
            "range around everything",
            three.to_vec(),
            0.0,
            1000.0,
            vec![
                ("/r/a.mp4", None, None, 0.0, 10.0),
                ("/r/b.mp4", None, None, 10.0, 10.0),
                ("/r/c.mp4", None, None, 20.0, 10.0),
            ],
        ),
        (
            "segments that only touch the range are dropped",
            three.to_vec(),
            110.0,
            120.0,
            vec![("/r/b.mp4", None, None, 0.0, 10.0)],
        ),
        (
            "segments fully outside are dropped",
            vec![
                seg("/r/early.mp4", 50.0, 60.0),
                seg("/r/a.mp4", 100.0, 110.0),
                seg("/r/late.mp4", 300.0, 310.0),
            ],
            95.0,
            108.0,
            vec![("/r/a.mp4", None, Some(8.0), 0.0, 8.0)],
        ),
        (
            "unordered input is put in time order",
            vec![three[2].clone(), three[0].clone(), three[1].clone()],
            105.0,
            125.0,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, None, 5.0, 10.0),
                ("/r/c.mp4", None, Some(5.0), 15.0, 5.0),
            ],
        ),
        (
            "segments with bogus times are dropped",
            vec![
                seg("/r/nan.mp4", f64::NAN, 110.0),
                seg("/r/inf.mp4", 100.0, f64::INFINITY),
                seg("/r/backwards.mp4", 110.0, 100.0),
                seg("/r/a.mp4", 100.0, 110.0),
            ],
            100.0,
            110.0,
            vec![("/r/a.mp4", None, None, 0.0, 10.0)],
        ),
        ("no segments", vec![], 100.0, 110.0, vec![]),
        ("empty range", three.to_vec(), 105.0, 105.0, vec![]),
        ("backwards range", three.to_vec(), 110.0, 105.0, vec![]),
        ("NaN range", three.to_vec(), f64::NAN, 105.0, vec![]),
        (
            "infinite range",
            three.to_vec(),
            100.0,
            f64::INFINITY,
            vec![],
        ),
    ];
    for (name, segments, start, end, want) in cases {
        assert_plan(name, &plan(&segments, start, end), &want);
    }
}

#[test]
fn plan_with_unix_times_keeps_sub_second_cuts() {
    let segments = [
        seg("/r/a.mp4", 1_700_000_000.0, 1_700_000_010.0),
        seg("/r/b.mp4", 1_700_000_010.0, 1_700_000_020.0),
    ];
    let p = plan(&segments, 1_700_000_002.25, 1_700_000_013.5);
    let list = concat_list(&p).unwrap();
    assert_eq!(
        String::from_utf8(list).unwrap(),
        "ffconcat version 1.0\n\
             file 'file:/r/a.mp4'\noption format_whitelist mov,mp4,m4a,3gp,3g2,mj2\ninpoint 2.250000\n\
             file 'file:/r/b.mp4'\noption format_whitelist mov,mp4,m4a,3gp,3g2,mj2\noutpoint 3.500000\n"
    );
    assert!(close(p.expected_duration, 11.25));
}

#[test]
fn plan_whole_file_table() {
    for (duration, covers) in [
        (42.5, 42.5),
        (0.0, 0.0),
        (-3.0, 0.0),
        (f64::NAN, 0.0),
        (f64::INFINITY, 0.0),
    ] {
        let p = plan_whole_file(Path::new("/m/exports/x.mp4"), duration);
        assert_plan(
            &format!("duration {duration}"),
            &p,
            &[("/m/exports/x.mp4", None, None, 0.0, covers)],
        );
    }
}

#[test]
fn quote_path_table() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"/a/b.mp4", b"'/a/b.mp4'"),
        (b"/with space/c d.mp4", b"'/with space/c d.mp4'"),
        (b"/it's.mp4", b"'/it'\\''s.mp4'"),
        (b"''", b"''\\'''\\'''"),
        (b"/back\\slash\\.mp4", b"'/back\\slash\\.mp4'"),
        (b"/hash#not a comment", b"'/hash#not a comment'"),
        (b"/tab\there", b"'/tab\there'"),
        (b"/latin1 \xe9\xff.mp4", b"'/latin1 \xe9\xff.mp4'"),
        (b"/\xc3\xa9t\xc3\xa9.mp4", b"'/\xc3\xa9t\xc3\xa9.mp4'"),
        (b"", b"''"),
    ];
    for (path, want) in cases {
        let path = Path::new(OsStr::from_bytes(path));
        assert_eq!(
            quote_path(path).as_deref(),
            Ok(*want),
            "{path:?} quoted as {:?}",
            quote_path(path).map(|q| String::from_utf8_lossy(&q).into_owned())
        );
    }
}

#[test]
fn quote_path_refuses_what_a_line_cannot_hold() {
    type Case = (&'static [u8], fn(PathBuf) -> ListError);
    let cases: &[Case] = &[
        (b"/a\nfile '/etc/shadow'", ListError::LineBreak),
        (b"/a\r.mp4", ListError::LineBreak),
        (b"/a.mp4\n", ListError::LineBreak),
        (b"/a\0.mp4", ListError::Nul),
    ];
    for (path, err) in cases {
        let path = Path::new(OsStr::from_bytes(path));
        assert_eq!(quote_path(path), Err(err(path.to_path_buf())));
    }
}

#[test]
fn concat_list_golden() {
    let p = ClipPlan::from_entries(vec![
        PlanEntry {
            path: PathBuf::from("/media/rec/it's here.mp4"),
            inpoint: Some(1.5),
            outpoint: None,
            start_offset: 0.0,
            covers: 8.5,
        },
        PlanEntry {
            path: PathBuf::from("/media/rec/b.mp4"),
            inpoint: None,
            outpoint: None,
            start_offset: 0.0,
            covers: 10.0,
        },
        PlanEntry {
            path: PathBuf::from("/media/rec/c.mp4"),
            inpoint: None,
            outpoint: Some(0.1),
            start_offset: 0.0,
            covers: 0.1,
        },
    ]);
    let want = "ffconcat version 1.0\n\
                    file 'file:/media/rec/it'\\''s here.mp4'\n\
                    option format_whitelist mov,mp4,m4a,3gp,3g2,mj2\n\
                    inpoint 1.500000\n\
                    file 'file:/media/rec/b.mp4'\n\
                    option format_whitelist mov,mp4,m4a,3gp,3g2,mj2\n\
                    file 'file:/media/rec/c.mp4'\n\
                    option format_whitelist mov,mp4,m4a,3gp,3g2,mj2\n\
                    outpoint 0.100000\n";
    assert_eq!(String::from_utf8(concat_list(&p).unwrap()).unwrap(), want);
    assert_eq!(
        concat_list(&ClipPlan::default()).unwrap(),
        b"ffconcat version 1.0\n"
    );
}

#[test]
fn concat_list_refuses_bad_paths() {
    let one = |path: &[u8]| plan_whole_file(Path::new(OsStr::from_bytes(path)), 1.0);
    assert_eq!(
        concat_list(&one(b"rec/a.mp4")),
        Err(ListError::NotAbsolute(PathBuf::from("rec/a.mp4")))
    );
    assert_eq!(
        concat_list(&one(b"/rec/a\n.mp4")),
        Err(ListError::LineBreak(PathBuf::from("/rec/a\n.mp4")))
    );
    assert_eq!(
        concat_list(&one(b"/rec/a\0.mp4")),
        Err(ListError::Nul(PathBuf::from("/rec/a\0.mp4")))
    );
    let message = ListError::LineBreak(PathBuf::from("/a\nb")).to_string();
    assert!(!message.contains('\n'), "{message}");
}

fn strs(args: &[OsString]) -> Vec<&str> {
    args.iter().map(|a| a.to_str().unwrap()).collect()
}

#[test]
fn ffmpeg_args_golden() {
    let args = ffmpeg_args(
        Path::new("/run/replayd/list.ffconcat"),
        Path::new("/media/frigate/clips/replay/_replay_front.mp4"),
    );
    assert_eq!(
        strs(&args),
        [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "warning",
            "-nostats",
            "-progress",
            "pipe:1",
            "-stats_period",
            "0.5",
            "-protocol_whitelist",
            "file",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            "file:/run/replayd/list.ffconcat",
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
            "file:/media/frigate/clips/replay/_replay_front.mp4",
        ]
    );
}

#[test]
fn ffmpeg_url_keeps_bytes_and_defuses_prefixes() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"/a b/c'd.mp4", b"file:/a b/c'd.mp4"),
        (b"/x\xff", b"file:/x\xff"),
        (b"http://host/x.mp4", b"file:http://host/x.mp4"),
        (b"-y", b"file:-y"),
    ];
    for (path, want) in cases {
        assert_eq!(
            ffmpeg_url(Path::new(OsStr::from_bytes(path))).as_bytes(),
            *want
        );
    }
}

#[test]
fn ffprobe_args_golden() {
    let args = ffprobe_duration_args(Path::new("/m/clip.mp4"));
    assert_eq!(
        strs(&args),
        [
            "-hide_banner",
            "-loglevel",
            "error",
            "-protocol_whitelist",
            "file",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            "file:/m/clip.mp4",
        ]
    );
    let args = ffprobe_video_args(Path::new("/m/seg.mp4"));
    assert_eq!(args.last().unwrap(), "file:/m/seg.mp4");
    assert!(strs(&args).contains(&"stream=codec_name,width,height,extradata_hash"));
}

#[test]
fn parse_probe_duration_table() {
    let cases: &[(&str, Option<f64>)] = &[
        ("5.600000\n", Some(5.6)),
        ("5.600000", Some(5.6)),
        ("  12\n", Some(12.0)),
        ("\n3600.000000\n", Some(3600.0)),
        ("0.000000\n", Some(0.0)),
        ("N/A\n", None),
        ("", None),
        ("\n\n", None),
        ("-1.0\n", None),
        ("inf\n", None),
        ("nan\n", None),
        ("duration=5.6\n", None),
    ];
    for (input, want) in cases {
        assert!(
            close_opt(parse_probe_duration(input), *want),
            "{input:?} -> {:?}",
            parse_probe_duration(input)
        );
    }
}

fn params(codec: &str, w: u32, h: u32, hash: Option<&str>) -> VideoParams {
    VideoParams {
        codec: codec.into(),
        width: w,
        height: h,
        extradata_hash: hash.map(String::from),
    }
}

#[test]
fn parse_probe_video_table() {
    let cases: &[(&str, Option<VideoParams>)] = &[
        (
            "codec_name=h264\nwidth=320\nheight=240\nextradata_hash=CRC32:ceda9db9\n",
            Some(params("h264", 320, 240, Some("CRC32:ceda9db9"))),
        ),
        (
            "width=640\nheight=480\ncodec_name=hevc\n",
            Some(params("hevc", 640, 480, None)),
        ),
        ("", None),
        ("codec_name=h264\nwidth=N/A\nheight=240\n", None),
        ("codec_name=h264\nwidth=0\nheight=240\n", None),
        ("codec_name=unknown\nwidth=320\nheight=240\n", None),
        ("width=320\nheight=240\n", None),
    ];
    for (input, want) in cases {
        assert_eq!(&parse_probe_video(input), want, "{input:?}");
    }
}

#[test]
fn concatenable_after_table() {
    let first_264 = params("h264", 320, 240, Some("CRC32:1"));
    let first_265 = params("hevc", 320, 240, Some("CRC32:1"));
    let cases = [
        (&first_264, params("h264", 320, 240, Some("CRC32:1")), true),
        (&first_264, params("h264", 320, 240, Some("CRC32:2")), true),
        (&first_264, params("h264", 320, 240, None), true),
        (&first_264, params("h264", 640, 480, Some("CRC32:1")), false),
        (&first_264, params("h264", 320, 480, Some("CRC32:1")), false),
        (&first_264, params("hevc", 320, 240, Some("CRC32:1")), false),
        (&first_265, params("hevc", 320, 240, Some("CRC32:1")), true),
        (&first_265, params("hevc", 320, 240, Some("CRC32:2")), false),
        (&first_265, params("hevc", 320, 240, None), false),
        (&first_265, params("hevc", 640, 480, Some("CRC32:1")), false),
    ];
    for (first, next, want) in cases {
        assert_eq!(
            next.concatenable_after(first),
            want,
            "{next:?} after {first:?}"
        );
    }
}

/// What ffmpeg 5.1 writes with `-progress pipe:1`, trimmed: a first block
/// before any packet is out, two in the middle, the last one.
const TRANSCRIPT: &str = "frame=0\nfps=0.00\nstream_0_0_q=-1.0\nbitrate=N/A\n\
        total_size=48\nout_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\ndup_frames=0\n\
        drop_frames=0\nspeed=N/A\nprogress=continue\n\
        frame=40\nfps=0.00\nbitrate= 240.1kbits/s\nout_time_us=-66667\nout_time_ms=-66667\n\
        out_time=-00:00:00.066667\nspeed=N/A\nprogress=continue\n\
        frame=80\nbitrate= 240.1kbits/s\ntotal_size=150000\nout_time_us=2500000\n\
        out_time_ms=2500000\nout_time=00:00:02.500000\nspeed=1.9e+03x\nprogress=continue\n\
        frame=82\nfps=0.00\nbitrate= 240.1kbits/s\ntotal_size=158082\nout_time_us=5266732\n\
        out_time_ms=5266732\nout_time=00:00:05.266732\ndup_frames=0\ndrop_frames=0\n\
        speed=1.95e+03x\nprogress=end\n";

fn transcript_updates() -> Vec<ProgressUpdate> {
    vec![
        ProgressUpdate::OutTime(2.5),
        ProgressUpdate::OutTime(5.266732),
        ProgressUpdate::End,
    ]
}

#[test]
fn progress_whole_transcript() {
    assert_eq!(
        ProgressParser::new().push(TRANSCRIPT.as_bytes()),
        transcript_updates()
    );
}

#[test]
fn progress_split_at_every_byte_position() {
    let bytes = TRANSCRIPT.as_bytes();
    for cut in 0..=bytes.len() {
        let mut parser = ProgressParser::new();
        let mut got = parser.push(&bytes[..cut]);
        got.extend(parser.push(&bytes[cut..]));
        assert_eq!(got, transcript_updates(), "split at {cut}");
    }
    for cut in 0..bytes.len() {
        for cut2 in (cut..=bytes.len()).step_by(7) {
            let mut parser = ProgressParser::new();
            let mut got = parser.push(&bytes[..cut]);
            got.extend(parser.push(&bytes[cut..cut2]));
            got.extend(parser.push(&bytes[cut2..]));
            assert_eq!(got, transcript_updates(), "split at {cut} and {cut2}");
        }
    }
    let mut parser = ProgressParser::new();
    let got: Vec<_> = bytes.iter().flat_map(|b| parser.push(&[*b])).collect();
    assert_eq!(got, transcript_updates(), "byte by byte");
}

#[test]
fn progress_blocks_table() {
    use ProgressUpdate::{End, OutTime};
    let cases: &[(&str, &str, &[ProgressUpdate])] = &[
            ("us first", "out_time_us=1500000\nprogress=continue\n", &[OutTime(1.5)]),
            ("ms is microseconds too", "out_time_ms=1500000\nprogress=continue\n", &[OutTime(1.5)]),
            ("clock as the fallback", "out_time=01:02:03.500000\nprogress=continue\n", &[OutTime(3723.5)]),
            ("clock with long hours", "out_time=100:00:00.000000\nprogress=continue\n", &[OutTime(360000.0)]),
            ("one update per block", "out_time_us=1000000\nout_time_ms=1000000\nout_time=00:00:01.000000\nprogress=continue\n", &[OutTime(1.0)]),
            ("N/A us falls back to ms", "out_time_us=N/A\nout_time_ms=2000000\nprogress=continue\n", &[OutTime(2.0)]),
            ("all N/A", "out_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nprogress=continue\n", &[]),
            ("all negative", "out_time_us=-66667\nout_time_ms=-66667\nout_time=-00:00:00.066667\nprogress=continue\n", &[]),
            ("NOPTS", "out_time_us=-9223372036854775807\nprogress=continue\n", &[]),
            ("zero is progress", "out_time_us=0\nprogress=continue\n", &[OutTime(0.0)]),
            ("end", "progress=end\n", &[End]),
            ("end after a time", "out_time_us=3000000\nprogress=end\n", &[OutTime(3.0), End]),
            ("continue alone", "progress=continue\n", &[]),
            ("CRLF", "out_time_us=1000000\r\nprogress=end\r\n", &[OutTime(1.0), End]),
            ("spaces", " out_time_us = 1000000 \nprogress= end\n", &[OutTime(1.0), End]),
            ("unterminated last line waits", "out_time_us=1000000\nprogress=end", &[OutTime(1.0)]),
            ("blocks reset", "out_time_us=1000000\nprogress=continue\nout_time_us=2000000\nprogress=continue\n", &[OutTime(1.0), OutTime(2.0)]),
            ("no progress line still reports", "out_time_us=1000000\n", &[OutTime(1.0)]),
            ("garbage", "hello\n=\n==\nout_time_us\nout_time_us=abc\nout_time=1:2\nout_time=a:b:c\nout_time=1:2:3:4\n", &[]),
            ("inf and nan", "out_time_us=inf\nout_time_us=NaN\nout_time=00:00:inf\n", &[]),
            ("other keys", "frame=10\nspeed=1.0x\nbitrate= 12kbits/s\n", &[]),
        ];
    for (name, input, want) in cases {
        assert_eq!(
            ProgressParser::new().push(input.as_bytes()),
            *want,
            "{name}"
        );
    }
}

#[test]
fn progress_survives_junk_lines() {
    let mut parser = ProgressParser::new();
    let mut input = vec![b'x'; 100_000];
    input.extend_from_slice(b"=out_time_us=5\n\xff\xfe=1\nout_time_us=4000000\nprogress=end\n");
    assert_eq!(
        parser.push(&input),
        [ProgressUpdate::OutTime(4.0), ProgressUpdate::End]
    );
    assert!(parser.line.capacity() <= 2 * MAX_PROGRESS_LINE);
}

#[test]
fn percent_table() {
    let cases = [
        (0.0, 10.0, 0.0),
        (5.0, 10.0, 50.0),
        (10.0, 10.0, 100.0),
        (15.0, 10.0, 100.0),
        (-1.0, 10.0, 0.0),
        (5.0, 0.0, 0.0),
        (5.0, -10.0, 0.0),
        (f64::NAN, 10.0, 0.0),
        (f64::INFINITY, 10.0, 100.0),
        (5.0, f64::NAN, 0.0),
        (5.0, f64::INFINITY, 0.0),
        (1.0, 3.0, 100.0 / 3.0),
    ];
    for (out_time, duration, want) in cases {
        assert!(
            close(percent(out_time, duration), want),
            "percent({out_time}, {duration}) = {}",
            percent(out_time, duration)
        );
    }
}

fn plan_of(covers: &[f64]) -> ClipPlan {
    let last = covers.len().saturating_sub(1);
    ClipPlan::from_entries(
        covers
            .iter()
            .enumerate()
            .map(|(i, &c)| PlanEntry {
                path: PathBuf::from(format!("/r/{i}.mp4")),
                inpoint: (i == 0).then_some(0.5),
                outpoint: (i == last).then_some(c),
                start_offset: 0.0,
                covers: c,
            })
            .collect(),
    )
}

#[test]
fn truncated_at_table() {
    // Offsets 0, 1.5, 3.5, 5.5; expected 7.
    let four = plan_of(&[1.5, 2.0, 2.0, 1.5]);
    let short_middle = plan_of(&[10.0, 0.6, 10.0]);
    let cases: &[(&str, &ClipPlan, f64, f64, Option<usize>)] = &[
        ("whole with run-up", &four, 7.8, 1.0, None),
        ("exact", &four, 7.0, 1.0, None),
        ("within tolerance", &four, 6.1, 1.0, None),
        ("at the tolerance", &four, 6.0, 1.0, None),
        // Measured: third of four bad, 0.5 s run-up: ffprobe says 4.000000.
        ("measured: entry 2 unreadable", &four, 4.0, 1.0, Some(2)),
        ("ends at an entry's start", &four, 3.5, 1.0, Some(2)),
        (
            "files shorter than the database says",
            &four,
            3.2,
            1.0,
            Some(2),
        ),
        ("entry 1 unreadable", &four, 1.9, 1.0, Some(1)),
        ("nothing written", &four, 0.0, 1.0, Some(0)),
        ("unreadable probe", &four, f64::NAN, 1.0, Some(0)),
        ("negative probe", &four, -1.0, 1.0, Some(0)),
        (
            "last entry unreadable, tight tolerance",
            &four,
            5.8,
            0.5,
            Some(3),
        ),
        (
            "last entry unreadable, zero tolerance",
            &four,
            5.5,
            0.0,
            Some(3),
        ),
        ("NaN tolerance is zero", &four, 6.9, f64::NAN, Some(3)),
        (
            "short bad entry is not passed over",
            &short_middle,
            10.2,
            1.0,
            Some(1),
        ),
        ("after a short entry", &short_middle, 10.8, 1.0, Some(2)),
        ("empty plan", &ClipPlan::default(), 0.0, 1.0, None),
    ];
    for (name, p, actual, tolerance, want) in cases {
        assert_eq!(truncated_at(p, *actual, *tolerance), *want, "{name}");
    }
}

#[test]
fn truncated_at_a_plan_whose_offsets_do_not_add_up() {
    let mut p = plan_of(&[5.0, 5.0]);
    p.expected_duration = 100.0;
    assert_eq!(truncated_at(&p, 20.0, 1.0), Some(1));
}

#[test]
fn without_entry_table() {
    let four = plan(
        &[
            seg("/r/a.mp4", 100.0, 110.0),
            seg("/r/b.mp4", 110.0, 120.0),
            seg("/r/c.mp4", 120.0, 130.0),
            seg("/r/d.mp4", 130.0, 140.0),
        ],
        105.0,
        135.0,
    );
    let cases: Vec<(usize, Vec<Row>)> = vec![
        (
            0,
            vec![
                ("/r/b.mp4", None, None, 0.0, 10.0),
                ("/r/c.mp4", None, None, 10.0, 10.0),
                ("/r/d.mp4", None, Some(5.0), 20.0, 5.0),
            ],
        ),
        (
            1,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/c.mp4", None, None, 5.0, 10.0),
                ("/r/d.mp4", None, Some(5.0), 15.0, 5.0),
            ],
        ),
        (
            3,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, None, 5.0, 10.0),
                ("/r/c.mp4", None, None, 15.0, 10.0),
            ],
        ),
        (
            9,
            vec![
                ("/r/a.mp4", Some(5.0), None, 0.0, 5.0),
                ("/r/b.mp4", None, None, 5.0, 10.0),
                ("/r/c.mp4", None, None, 15.0, 10.0),
                ("/r/d.mp4", None, Some(5.0), 25.0, 5.0),
            ],
        ),
    ];
    for (index, want) in cases {
        assert_plan(
            &format!("without {index}"),
            &without_entry(&four, index),
            &want,
        );
    }
    let single = plan_whole_file(Path::new("/e.mp4"), 3.0);
    assert_eq!(without_entry(&single, 0), ClipPlan::default());
}

#[test]
fn truncated_then_rebuilt_plan_is_whole() {
    let p = plan_of(&[1.5, 2.0, 2.0, 1.5]);
    let bad = truncated_at(&p, 4.0, 1.0).unwrap();
    let rebuilt = without_entry(&p, bad);
    assert!(close(rebuilt.expected_duration, 5.0));
    // The rebuilt clip, measured: 5.5 s (the 0.5 s run-up included).
    assert_eq!(truncated_at(&rebuilt, 5.5, 1.0), None);
}

mod real_ffmpeg {
    //! Runs the argv and list built above through the installed ffmpeg.
    use super::super::*;
    use super::{ffprobe_video_args, parse_probe_video, seg};
    use std::ffi::OsStr;
    use std::process::{Command, Stdio};

    /// One GOP of the generated segments (`-g 15` at 15 fps).
    const GOP: f64 = 1.0;

    fn have_ffmpeg() -> bool {
        let runs = |tool: &str| {
            Command::new(tool)
                .arg("-version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let found = runs("ffmpeg") && runs("ffprobe");
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "ffmpeg/ffprobe not on PATH, and CI is set: these tests must run there"
            );
            eprintln!("note: ffmpeg/ffprobe not on PATH; skipping the real-ffmpeg test");
        }
        found
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("replayd-clip-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A 2 s segment; `extras` adds what camera recordings may carry
    /// besides video: an AAC track and a timecode (data) track.
    fn make_segment(path: &Path, size: &str, extras: bool) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args(["-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={size}:rate=15"));
        if extras {
            cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"])
                .args(["-c:a", "aac", "-timecode", "00:00:00:00"]);
        }
        let status = cmd
            .args([
                "-t", "2", "-c:v", "libx264", "-g", "15", "-pix_fmt", "yuv420p",
            ])
            .args(["-f", "mp4", "-y"])
            .arg(ffmpeg_url(path))
            .status()
            .unwrap();
        assert!(status.success(), "generating {path:?}");
    }

    fn probe_duration(path: &Path) -> Option<f64> {
        let out = Command::new("ffprobe")
            .args(ffprobe_duration_args(path))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_probe_duration(&String::from_utf8_lossy(&out.stdout))
    }

    fn probe_video(path: &Path) -> Option<VideoParams> {
        let out = Command::new("ffprobe")
            .args(ffprobe_video_args(path))
            .output()
            .unwrap();
        parse_probe_video(&String::from_utf8_lossy(&out.stdout))
    }

    /// Cuts `plan` into `output`; returns the progress updates, fed to
    /// the parser in 7-byte chunks.
    fn cut(plan: &ClipPlan, list: &Path, output: &Path) -> Vec<ProgressUpdate> {
        std::fs::write(list, concat_list(plan).unwrap()).unwrap();
        let out = Command::new("ffmpeg")
            .args(ffmpeg_args(list, output))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // A bad segment mid-list still exits 0; success is not proof.
        assert!(
            out.status.success(),
            "ffmpeg: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut parser = ProgressParser::new();
        out.stdout.chunks(7).flat_map(|c| parser.push(c)).collect()
    }

    #[test]
    fn cuts_a_plan_with_in_and_outpoints() {
        if !have_ffmpeg() {
            return;
        }
        let tmp = TempDir::new("cut");
        let dir = &tmp.0;
        let paths = [
            dir.join("plain.mp4"),
            dir.join("dir with space's").join("it's.mp4"),
            dir.join(OsStr::from_bytes(b"back\\slash #\xff.mp4")),
        ];
        for p in &paths {
            make_segment(p, "320x240", true);
        }
        let t0 = 1_700_000_000.0;
        let segments: Vec<Segment> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| Segment {
                path: p.clone(),
                start_time: t0 + 2.0 * i as f64,
                end_time: t0 + 2.0 * i as f64 + 2.0,
            })
            .collect();
        let p = plan(&segments, t0 + 0.3, t0 + 5.3);
        assert_eq!(p.entries.len(), 3);
        let list = dir.join("dir with space's").join("li'st.ffconcat");
        let output = dir.join("out put's.mp4");

        let updates = cut(&p, &list, &output);
        assert_eq!(updates.last(), Some(&ProgressUpdate::End), "{updates:?}");
        let last_time = updates.iter().rev().find_map(|u| match u {
            ProgressUpdate::OutTime(t) => Some(*t),
            ProgressUpdate::End => None,
        });
        assert!(last_time.is_some_and(|t| t > 0.0), "{updates:?}");

        let probed = probe_duration(&output).unwrap();
        eprintln!(
            "cut: expected {:.3} s, probed {probed:.3} s, last out_time {last_time:?}",
            p.expected_duration
        );
        assert!(
            (probed - p.expected_duration).abs() <= GOP,
            "expected {}, probed {probed}",
            p.expected_duration
        );
        assert_eq!(truncated_at(&p, probed, GOP), None);
        assert_eq!(
            percent(last_time.unwrap_or(0.0), p.expected_duration),
            100.0
        );

        // Video only, despite the audio and timecode tracks of the input.
        let streams = Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_type"])
            .args(["-of", "csv=p=0"])
            .arg(ffmpeg_url(&output))
            .output()
            .unwrap();
        let types = String::from_utf8_lossy(&streams.stdout).into_owned();
        assert!(
            types.lines().filter(|l| *l == "video").count() == 1,
            "{types}"
        );
        assert!(!types.contains("audio"), "{types}");
        assert_eq!(
            probe_video(&output),
            probe_video(&paths[0]),
            "the clip keeps the segments' video parameters"
        );

        // +faststart: the index comes before the media data.
        let bytes = std::fs::read(&output).unwrap();
        let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag);
        assert!(find(b"moov").unwrap() < find(b"mdat").unwrap());
    }

    #[test]
    fn finds_and_drops_an_unreadable_segment() {
        if !have_ffmpeg() {
            return;
        }
        let tmp = TempDir::new("bad");
        let dir = &tmp.0;
        let good = dir.join("good.mp4");
        make_segment(&good, "320x240", false);
        // A segment cut off before its index, as left by a crash.
        let bytes = std::fs::read(&good).unwrap();
        let bad = dir.join("bad.mp4");
        std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();

        let t0 = 1_700_000_000.0;
        let segments = [
            seg(good.to_str().unwrap(), t0, t0 + 2.0),
            seg(good.to_str().unwrap(), t0 + 2.0, t0 + 4.0),
            seg(bad.to_str().unwrap(), t0 + 4.0, t0 + 6.0),
            seg(good.to_str().unwrap(), t0 + 6.0, t0 + 8.0),
        ];
        let p = plan(&segments, t0 + 0.3, t0 + 7.5);
        let list = dir.join("list.ffconcat");
        let output = dir.join("out.mp4");

        cut(&p, &list, &output);
        let probed = probe_duration(&output).unwrap();
        let bad_index = truncated_at(&p, probed, GOP);
        eprintln!(
            "bad segment: expected {:.3} s, probed {probed:.3} s, blamed {bad_index:?}",
            p.expected_duration
        );
        assert_eq!(bad_index, Some(2));

        let rebuilt = without_entry(&p, 2);
        cut(&rebuilt, &list, &output);
        let probed = probe_duration(&output).unwrap();
        eprintln!(
            "rebuilt: expected {:.3} s, probed {probed:.3} s",
            rebuilt.expected_duration
        );
        assert_eq!(truncated_at(&rebuilt, probed, GOP), None);
        assert!((probed - rebuilt.expected_duration).abs() <= GOP);
    }

    #[test]
    fn probes_video_params_of_segments() {
        if !have_ffmpeg() {
            return;
        }
        let tmp = TempDir::new("params");
        let dir = &tmp.0;
        let small = dir.join("small.mp4");
        let small2 = dir.join("small2.mp4");
        let big = dir.join("big.mp4");
        make_segment(&small, "320x240", true);
        make_segment(&small2, "320x240", false);
        make_segment(&big, "640x480", false);
        let first = probe_video(&small).unwrap();
        assert_eq!(
            (first.codec.as_str(), first.width, first.height),
            ("h264", 320, 240)
        );
        assert!(first.extradata_hash.is_some(), "{first:?}");
        assert!(probe_video(&small2).unwrap().concatenable_after(&first));
        assert!(!probe_video(&big).unwrap().concatenable_after(&first));
        let not_video = dir.join("not-video.mp4");
        std::fs::write(&not_video, b"not a video").unwrap();
        assert_eq!(probe_video(&not_video), None);
    }
}

// ffprobe's view of a segment's video parameters: the reference the
// in-process MP4 reader (`replay::mp4`) is checked against in these tests.
/// ffprobe's argv to print the first video stream's [`VideoParams`] of `path`
/// as `key=value` lines.
fn ffprobe_video_args(path: &Path) -> Vec<OsString> {
    let mut args = os_args(&[
        "-hide_banner",
        "-loglevel",
        "error",
        "-select_streams",
        "v:0",
        "-show_data_hash",
        "CRC32",
        "-show_entries",
        "stream=codec_name,width,height,extradata_hash",
        "-of",
        "default=noprint_wrappers=1",
    ]);
    args.push(ffmpeg_url(path));
    args
}

/// The output of [`ffprobe_video_args`]; `None` when the file has no video
/// stream or ffprobe could not tell its codec or size.
fn parse_probe_video(stdout: &str) -> Option<VideoParams> {
    let (mut codec, mut width, mut height, mut hash) = (None, None, None, None);
    for line in stdout.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        match key {
            "codec_name" => codec = Some(value.to_owned()),
            "width" => width = value.parse::<u32>().ok(),
            "height" => height = value.parse::<u32>().ok(),
            "extradata_hash" => hash = Some(value.to_owned()),
            _ => {}
        }
    }
    let codec = codec.filter(|c| !c.is_empty() && c != "unknown")?;
    Some(VideoParams {
        codec,
        width: width.filter(|&w| w > 0)?,
        height: height.filter(|&h| h > 0)?,
        extradata_hash: hash,
    })
}

fn present(path: &str, start: f64, end: f64, measured: Option<f64>) -> SegmentFile {
    SegmentFile {
        path: PathBuf::from(path),
        start_time: start,
        end_time: end,
        state: SegmentState::Present {
            size: 1000,
            params: None,
            duration: measured,
            facts: None,
        },
    }
}

#[test]
fn segments_shorter_than_their_rows_are_planned_by_what_they_hold() {
    // Issue 10 finding 8: segments 5% shorter than the database says made
    // the duration check blame good segments (30 ffmpeg reruns, then a
    // failed job). Each is planned by its own measured length now.
    let files: Vec<SegmentFile> = (0..30)
        .map(|i| {
            let t = 1000.0 + 10.0 * i as f64;
            present(&format!("/m/{i}.mp4"), t, t + 10.0, Some(9.5))
        })
        .collect();
    let usable = usable_segments("front", &files);
    assert_eq!(usable.segments.len(), 30);
    assert!(usable.warnings.is_empty());
    let plan = plan(&usable.segments, 1000.0, 1300.0);
    assert!(
        (plan.expected_duration - 285.0).abs() < 1e-9,
        "{}",
        plan.expected_duration
    );
    // What ffmpeg really writes for them: nothing to blame.
    assert_eq!(
        crate::replay::lifecycle::judge_clip(&plan, 285.0, 0),
        crate::replay::lifecycle::ClipVerdict::Good
    );
    // A longer file than its row, or an unreadable length, changes nothing.
    let usable = usable_segments(
        "front",
        &[
            present("/m/a.mp4", 0.0, 10.0, Some(12.0)),
            present("/m/b.mp4", 10.0, 20.0, Some(f64::NAN)),
            present("/m/c.mp4", 20.0, 30.0, None),
        ],
    );
    let ends: Vec<f64> = usable.segments.iter().map(|s| s.end_time).collect();
    assert_eq!(ends, [10.0, 20.0, 30.0]);
}

#[test]
fn a_segment_whose_path_a_concat_list_cannot_carry_is_skipped_not_fatal() {
    let usable = usable_segments(
        "front",
        &[
            present("/m/a.mp4", 0.0, 10.0, None),
            present("/m/b\nfile /etc/shadow.mp4", 10.0, 20.0, None),
            present("/m/c.mp4", 20.0, 30.0, None),
        ],
    );
    assert_eq!(usable.segments.len(), 2);
    assert_eq!(usable.warnings.len(), 1);
    assert!(usable.warnings[0].contains("skipping recording segment"));
    assert!(concat_list(&plan(&usable.segments, 0.0, 30.0)).is_ok());
}

#[test]
fn every_entry_is_read_as_an_mp4_only() {
    // Issue 10 (low): no per-entry format; safety relied on ffmpeg's probe.
    let list = concat_list(&plan(&[seg("/r/a.mp4", 0.0, 10.0)], 0.0, 10.0)).unwrap();
    let text = String::from_utf8(list).unwrap();
    assert!(
        text.contains("file 'file:/r/a.mp4'\noption format_whitelist mov,mp4,m4a,3gp,3g2,mj2\n"),
        "{text}"
    );
}
