use super::*;

#[test]
fn groups_line() {
    let status = "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 27 1001 \nVmRSS: 1 kB\n";
    assert_eq!(parse_groups(status), vec![4, 27, 1001]);
    assert_eq!(parse_groups("Groups:\n"), Vec::<u32>::new());
    assert_eq!(parse_groups(""), Vec::<u32>::new());
}

#[test]
fn nsswitch_group_sources() {
    assert!(!group_sources_beyond_files(
        "passwd: files\ngroup:          files systemd\n"
    ));
    assert!(!group_sources_beyond_files(
        "group: files [SUCCESS=merge] systemd\n"
    ));
    assert!(group_sources_beyond_files("group: files sss\n"));
    assert!(group_sources_beyond_files("group: files ldap systemd\n"));
    assert!(!group_sources_beyond_files("# nothing\n"));
}

#[test]
fn group_file_lookup() {
    let text = "root:x:0:\nreplayd:x:997:alice,bob\n# comment\nbad line\n";
    assert_eq!(gid_in_group_file(text, "replayd"), Some(997));
    assert_eq!(gid_in_group_file(text, "root"), Some(0));
    assert_eq!(gid_in_group_file(text, "replay"), None);
    assert_eq!(gid_in_group_file(text, "bad line"), None);
}

#[test]
fn admin_rules() {
    let root = Peer {
        pid: 1,
        uid: 0,
        gid: 0,
        groups: None,
    };
    let user = Peer {
        pid: i32::MAX,
        uid: 1000,
        gid: 1000,
        groups: Some(vec![4, 27]),
    };
    let member = Peer {
        groups: Some(vec![4, 4242]),
        ..user.clone()
    };
    assert!(is_admin(&member, Some(Gid::from_raw(4242))));
    assert!(is_admin(&root, None));
    assert!(!is_admin(&user, None));
    assert!(is_admin(&user, Some(Gid::from_raw(1000))));
    assert!(!is_admin(&user, Some(Gid::from_raw(4242))));
}
