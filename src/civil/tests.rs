use super::*;

#[test]
fn round_trips_through_unix_seconds() {
    for t in [
        -86_401,
        -1,
        0,
        951_782_400,
        1_795_082_400,
        4_102_444_800,
        253_402_300_799,
    ] {
        assert_eq!(Civil::from_unix(t).to_unix(), t, "{t}");
    }
    assert_eq!(
        Civil::from_unix(951_825_600),
        Civil {
            year: 2000,
            month: 2,
            day: 29,
            hour: 12,
            minute: 0,
            second: 0
        }
    );
    assert_eq!(Civil::from_unix(-1).year, 1969);
}

#[test]
fn days_and_dates_agree_over_four_centuries() {
    let mut days = days_from_civil(1900, 1, 1);
    for y in 1900..2300 {
        for m in 1..=12 {
            for d in 1..=days_in_month(y, m) {
                assert_eq!(civil_from_days(days), (y, m, d));
                assert_eq!(days_from_civil(y, m, d), days);
                days += 1;
            }
        }
    }
}

#[test]
fn months_and_leap_years() {
    assert_eq!(days_in_month(2000, 2), 29);
    assert_eq!(days_in_month(1900, 2), 28);
    assert_eq!(days_in_month(2028, 2), 29);
    assert_eq!(days_in_month(2026, 4), 30);
    assert_eq!(days_in_month(2026, 13), 0);
    assert_eq!(days_in_month(2026, 0), 0);
}

#[test]
fn formats_utc() {
    assert_eq!(format_utc(1_700_000_000.0), "2023-11-14 22:13:20 UTC");
    assert_eq!(format_utc(1_700_000_000.9), "2023-11-14 22:13:20 UTC");
    assert_eq!(format_utc(0.0), "1970-01-01 00:00:00 UTC");
    assert_eq!(format_utc(-0.5), "1969-12-31 23:59:59 UTC");
    assert_eq!(format_utc(MAX_UNIX), "9999-12-31 23:59:59 UTC");
    assert_eq!(format_utc(MAX_UNIX + 1.0), "?");
    assert_eq!(format_utc(f64::NAN), "?");
    assert_eq!(format_utc(f64::INFINITY), "?");
}
