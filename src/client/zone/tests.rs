use super::*;

#[test]
fn round_trips_in_whatever_zone_the_host_has() {
    // Mid-month instants, far from any DST change in any zone.
    for t in [1_700_000_000_i64, 1_795_514_400, 1_752_580_800] {
        let (civil, offset) = SystemZone.to_local(t).expect("localtime_r");
        assert_eq!(SystemZone.to_unix(&civil), Some(t), "{civil:?}");
        assert!(offset.abs() <= 14 * 3600);
    }
}
