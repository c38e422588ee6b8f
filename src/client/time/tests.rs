use super::*;

const NOW: f64 = 1_795_000_000.0;
// 2026-11-24T10:00:00Z
const T0: f64 = 1_795_514_400.0;
const CET: FixedOffset = FixedOffset(3600);

/// A zone that skips 02:00–03:00 on every day, like a spring-forward.
struct GapZone;
impl Zone for GapZone {
    fn to_unix(&self, c: &Civil) -> Option<i64> {
        (c.hour != 2).then(|| c.to_unix())
    }
    fn to_local(&self, unix: i64) -> Option<(Civil, i64)> {
        Some((Civil::from_unix(unix), 0))
    }
}

#[test]
fn parses_every_time_form() {
    let cases: &[(&str, f64)] = &[
        ("2026-11-24T10:00:00Z", T0),
        ("2026-11-24t10:00:00z", T0),
        ("2026-11-24 10:00:00Z", T0),
        ("2026-11-24T10:00Z", T0),
        ("2026-11-24T10:00:00.25Z", T0 + 0.25),
        ("2026-11-24T11:00:00+01:00", T0),
        ("2026-11-24T11:00:00+0100", T0),
        ("2026-11-24T05:30:00-04:30", T0),
        ("2026-11-24T11:00:00.5+01:00", T0 + 0.5),
        // Local time (CET in this table).
        ("2026-11-24 11:00", T0),
        ("2026-11-24 11:00:30", T0 + 30.0),
        ("2026-11-24T11:00:30", T0 + 30.0),
        ("2026-11-24 11:00:30.125", T0 + 30.125),
        ("  2026-11-24 11:00  ", T0),
        // Unix seconds.
        ("1795514400", T0),
        ("1795514400.75", T0 + 0.75),
        ("0", 0.0),
        // Relative to now.
        ("now", NOW),
        ("NOW", NOW),
        ("-5m", NOW - 300.0),
        ("-90s", NOW - 90.0),
        ("-1h30m", NOW - 5400.0),
        ("-1.5h", NOW - 5400.0),
        ("-2d", NOW - 172_800.0),
        // Leap day.
        ("2028-02-29T00:00:00Z", 1_835_395_200.0),
    ];
    for &(input, want) in cases {
        assert_eq!(parse_time(input, NOW, &CET), Ok(want), "{input}");
    }
}

#[test]
fn refuses_bad_times() {
    let cases = [
        "",
        "yesterday",
        "2026-13-01 10:00",
        "2026-00-01 10:00",
        "2026-02-29 10:00",
        "2026-04-31 10:00",
        "2026-11-24",
        "2026-11-24 24:00",
        "2026-11-24 10:60",
        "2026-11-24 10:00:60",
        "2026-11-24 10",
        "2026-11-24 10:00:",
        "2026-11-24 10:00:00.",
        "2026-11-24 10:00:00 Z",
        "2026-11-24T10:00:00+25:00",
        "2026-11-24T10:00:00+01",
        "2026-11-24T10:00:00Zjunk",
        "2026-1-24 10:00",
        "26-11-24 10:00",
        "-5x",
        "-5",
        "-",
        "--5m",
        "+5m",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "1e9",
        "1795514400.",
        ".5",
        "1,5",
        "99999999999999",
        "5m",
    ];
    for input in cases {
        assert!(
            parse_time(input, NOW, &CET).is_err(),
            "{input:?} was accepted"
        );
    }
}

#[test]
fn local_time_in_a_dst_gap_is_refused() {
    let err = parse_time("2026-03-29 02:30", NOW, &GapZone).unwrap_err();
    assert!(err.to_string().contains("DST"), "{err}");
    assert!(parse_time("2026-03-29T02:30:00Z", NOW, &GapZone).is_ok());
    assert!(parse_time("2026-03-29 03:30", NOW, &GapZone).is_ok());
}

#[test]
fn errors_name_the_input_and_the_problem() {
    let e = parse_time("2026-13-01 10:00", NOW, &CET).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid time '2026-13-01 10:00': month 13 does not exist"
    );
    let e = parse_time("-5x", NOW, &CET).unwrap_err();
    assert!(e.to_string().contains("unknown unit \"x\""), "{e}");
    let e = parse_time("yest\x1b[2Jerday", NOW, &CET).unwrap_err();
    assert!(!e.to_string().contains('\x1b'), "{e}");
}

#[test]
fn parses_durations() {
    let cases: &[(&str, f64)] = &[
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93_784.0),
        ("1.5h", 5400.0),
        ("0.5s", 0.5),
        (" 5m ", 300.0),
        // The grammar of replayd.toml: milliseconds and spaces too.
        ("500ms", 0.5),
        ("1h 30m", 5400.0),
    ];
    for &(input, want) in cases {
        assert_eq!(parse_duration(input), Ok(want), "{input}");
    }
    let bad = [
        "", "5", "m", "5x", "-5m", "5m5m", "30m1h", "1 h", "0s", "0m0s", "1..5m", ".5m", "5M",
        "NaN", "infs", "5mm", "1e3s", "5µ",
    ];
    for input in bad {
        assert!(parse_duration(input).is_err(), "{input:?} was accepted");
    }
    let huge = format!("{}d", "9".repeat(400));
    assert!(parse_duration(&huge).is_err());
}

#[test]
fn formats_times_and_durations() {
    assert_eq!(format_local(T0 + 0.9, &CET), "2026-11-24 11:00:00 +01:00");
    assert_eq!(
        format_local(T0, &FixedOffset(-16_200)),
        "2026-11-24 05:30:00 -04:30"
    );
    assert_eq!(format_local(f64::NAN, &CET), "?");
    assert_eq!(format_clock(T0 + 65.0, &CET), "11:01:05");
    let durations: &[(f64, &str)] = &[
        (0.0, "0s"),
        (-5.0, "0s"),
        (f64::NAN, "0s"),
        (0.4, "0s"),
        (45.0, "45s"),
        (60.0, "1m"),
        (303.0, "5m 3s"),
        (3600.0, "1h"),
        (5430.0, "1h 30m"),
        (43_200.0, "12h"),
        (183_600.0, "2d 3h"),
    ];
    for &(secs, want) in durations {
        assert_eq!(format_duration(secs), want, "{secs}");
    }
    assert_eq!(format_relative(NOW + 300.0, NOW), "in 5m");
    assert_eq!(format_relative(NOW - 90.0, NOW), "1m 30s ago");
    assert_eq!(format_relative(NOW, NOW), "now");
}
