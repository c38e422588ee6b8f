use super::*;

#[test]
fn the_rule_accepts_only_letters_digits_underscore_and_dash() {
    for good in ["front", "Front_2", "a-b", "_x", "9"] {
        assert!(is_valid(good), "{good}");
    }
    for bad in ["", "a b", "a/b", "..", "a.b", "é", "a\nb", "a:b"] {
        assert!(!is_valid(bad), "{bad:?}");
    }
}

#[test]
fn replay_names_carry_the_prefix_and_more() {
    assert!(is_replay_name("_replay_front"));
    assert!(!is_replay_name("_replay_"));
    assert!(!is_replay_name("front"));
    assert!(!is_replay_name("_replay_../x"));
    assert_eq!(replay_name("front"), "_replay_front");
}

#[test]
fn a_source_camera_is_neither_invalid_nor_a_replay_camera() {
    assert_eq!(
        CameraName::parse("front").unwrap().replay(),
        "_replay_front"
    );
    assert!(matches!(
        CameraName::parse("a/b"),
        Err(NameError::Invalid(_))
    ));
    assert!(matches!(
        CameraName::parse("_replay_front"),
        Err(NameError::IsReplay(_))
    ));
    // A hostile name is escaped before it reaches a message.
    let err = CameraName::parse("x\ny").unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
}
