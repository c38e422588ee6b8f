use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn accepts_what_the_daemon_and_the_client_both_accepted() {
    let cases: &[(&str, Duration)] = &[
        // replayd.toml's forms
        ("90s", ms(90_000)),
        ("12h", ms(43_200_000)),
        ("1h30m", ms(5_400_000)),
        ("1h 30m", ms(5_400_000)),
        (" 5m ", ms(300_000)),
        ("500ms", ms(500)),
        ("2d", ms(172_800_000)),
        ("1d2h3m4s5ms", ms(93_784_005)),
        ("0h1s", ms(1_000)),
        ("3650d", MAX),
        // replayctl's forms
        ("1.5h", ms(5_400_000)),
        ("0.5s", ms(500)),
        ("1d2h3m4s", ms(93_784_000)),
        // and their union
        ("1.5s250ms", ms(1_750)),
        ("0.25ms", Duration::from_micros(250)),
        ("1.1s", Duration::new(1, 100_000_000)),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text), Ok(*want), "{text}");
    }
}

#[test]
fn refuses_malformed_values_with_a_reason() {
    use DurationError::*;
    let huge = format!("{}d", "9".repeat(400));
    let cases: &[(&str, DurationError)] = &[
        ("", Empty),
        (" ", Empty),
        ("0s", Zero),
        ("0m0s", Zero),
        ("0.0000000000000000019d", Zero),
        ("0", MissingUnit),
        ("5", MissingUnit),
        ("1 h", MissingUnit),
        ("5µ", MissingUnit),
        ("-1s", Negative),
        ("-5m", Negative),
        ("+5s", Malformed),
        ("s", Malformed),
        ("m", Malformed),
        ("h1", Malformed),
        ("1h-5m", Malformed),
        ("1..5m", Malformed),
        (".5m", Malformed),
        ("5.m", Malformed),
        ("NaN", Malformed),
        ("infs", Malformed),
        ("1x", UnknownUnit("x".into())),
        ("1hh", UnknownUnit("hh".into())),
        ("5M", UnknownUnit("M".into())),
        ("5mm", UnknownUnit("mm".into())),
        ("1e3s", UnknownUnit("e".into())),
        ("10min", UnknownUnit("min".into())),
        ("5m5m", UnitOrder),
        ("30m1h", UnitOrder),
        ("1s1d", UnitOrder),
        ("500ms1s", UnitOrder),
        ("3651d", TooLarge),
        ("3650d1ms", TooLarge),
        ("99999999999999999999s", TooLarge),
        (huge.as_str(), TooLarge),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).as_ref(), Err(want), "{text:?}");
    }
}

#[test]
fn reasons_read_as_sentences() {
    assert_eq!(
        DurationError::UnknownUnit("min".into()).to_string(),
        "unknown unit \"min\" (expected ms, s, m, h or d)"
    );
    assert!(DurationError::Empty
        .to_string()
        .starts_with("empty duration"));
}

#[test]
fn format_is_read_back_by_parse() {
    for text in [
        "1m30s",
        "12h",
        "1h30m",
        "500ms",
        "2d",
        "1d2h3m4s5ms",
        "3650d",
    ] {
        let d = parse(text).unwrap();
        assert_eq!(format(d), text);
        assert_eq!(parse(&format(d)), Ok(d), "{text}");
    }
    assert_eq!(format(Duration::from_secs(90)), "1m30s");
    assert_eq!(format(Duration::ZERO), "0s");
    assert_eq!(format(Duration::from_micros(1_500)), "1ms");
}
