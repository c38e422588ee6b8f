use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;
use crate::config::Publisher;
use crate::replay::ledger::CameraEntry;

const PREFIX: &str = "_replay_";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replayd-ledger-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn ledger() -> Ledger {
    let mut l = Ledger::new(PREFIX);
    l.record_camera(CameraEntry {
        name: "_replay_front".into(),
        publisher: Publisher::Frigate,
        nvr_url: Some("http://127.0.0.1:5000".into()),
        recorded_at: 1_795_514_400.0,
    })
    .unwrap();
    l.record_folder("_replay_front").unwrap();
    l.owe_rows("_replay_front").unwrap();
    l
}

fn is_set_aside(note: &LoadNote) -> bool {
    matches!(note, LoadNote::SetAside { .. })
}

#[test]
fn round_trip() {
    let dir = temp_dir("rt");
    let store = LedgerStore::new(&dir);
    store.save(&ledger()).unwrap();
    assert_eq!(store.load(PREFIX).unwrap(), (ledger(), LoadNote::Loaded));
    let meta = fs::symlink_metadata(store.path()).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(!dir.join("ledger.json.tmp").exists());

    // Saving again replaces the file whole.
    let mut l = ledger();
    assert!(l.drop_camera("_replay_front"));
    store.save(&l).unwrap();
    assert_eq!(store.load(PREFIX).unwrap(), (l, LoadNote::Loaded));
    store.save(&Ledger::new(PREFIX)).unwrap();
    let (empty, note) = store.load(PREFIX).unwrap();
    assert!(empty.is_empty());
    assert_eq!(note, LoadNote::Loaded);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_file_or_state_dir_is_an_empty_ledger() {
    let dir = temp_dir("missing");
    let store = LedgerStore::new(&dir);
    assert_eq!(
        store.load(PREFIX).unwrap(),
        (Ledger::new(PREFIX), LoadNote::Missing)
    );
    let gone = LedgerStore::new(&dir.join("not-yet"));
    assert_eq!(
        gone.load(PREFIX).unwrap(),
        (Ledger::new(PREFIX), LoadNote::Missing)
    );
    // Nothing to write into: an error, not a silent success.
    assert!(gone.save(&ledger()).is_err());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corrupt_file_is_kept_aside() {
    let dir = temp_dir("corrupt");
    let store = LedgerStore::new(&dir);
    fs::write(store.path(), b"{\"schema\":1,\"cameras\":[").unwrap();
    let (l, note) = store.load(PREFIX).unwrap();
    assert!(l.is_empty());
    match note {
        LoadNote::SetAside { reason } => assert!(reason.contains("not a ledger"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!store.path().exists());
    assert_eq!(
        fs::read(dir.join("ledger.json.corrupt")).unwrap(),
        b"{\"schema\":1,\"cameras\":["
    );
    // The next save starts afresh; a later corrupt file replaces the older one.
    store.save(&ledger()).unwrap();
    assert_eq!(store.load(PREFIX).unwrap().1, LoadNote::Loaded);
    fs::write(store.path(), b"").unwrap();
    assert!(is_set_aside(&store.load(PREFIX).unwrap().1));
    assert_eq!(fs::read(dir.join("ledger.json.corrupt")).unwrap(), b"");

    // Too large to be a ledger: refused before it is read.
    fs::write(store.path(), vec![b' '; (MAX_LEDGER_BYTES + 1) as usize]).unwrap();
    match store.load(PREFIX).unwrap().1 {
        LoadNote::SetAside { reason } => assert!(reason.contains("larger than"), "{reason}"),
        other => panic!("{other:?}"),
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tampered_entries_are_refused() {
    let dir = temp_dir("tampered");
    let store = LedgerStore::new(&dir);
    let valid = String::from_utf8(ledger().to_json().unwrap()).unwrap();
    for (tampered, says) in [
        (
            valid.replace("\"camera\": \"_replay_front\"", "\"camera\": \"../../x\""),
            "'../../x' is not a replay camera name",
        ),
        (
            valid.replace("\"name\": \"_replay_front\"", "\"name\": \"front\""),
            "'front' is not a replay camera name",
        ),
    ] {
        assert_ne!(tampered, valid);
        fs::write(store.path(), &tampered).unwrap();
        let (l, note) = store.load(PREFIX).unwrap();
        assert!(l.is_empty(), "{tampered}");
        match note {
            LoadNote::SetAside { reason } => assert!(reason.contains(says), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fs::read_to_string(dir.join("ledger.json.corrupt")).unwrap(),
            tampered
        );
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_planted_symlink_at_the_temp_path_is_not_followed() {
    let dir = temp_dir("symlink-tmp");
    let state = dir.join("state");
    fs::create_dir(&state).unwrap();
    let target = dir.join("precious");
    fs::write(&target, b"precious\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    symlink(&target, state.join("ledger.json.tmp")).unwrap();

    let store = LedgerStore::new(&state);
    store.save(&ledger()).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"precious\n");
    assert_eq!(
        fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(fs::symlink_metadata(store.path()).unwrap().is_file());
    assert!(fs::symlink_metadata(state.join("ledger.json.tmp")).is_err());
    assert_eq!(store.load(PREFIX).unwrap(), (ledger(), LoadNote::Loaded));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_planted_symlink_at_the_ledger_is_not_read_or_written_through() {
    let dir = temp_dir("symlink-ledger");
    let state = dir.join("state");
    fs::create_dir(&state).unwrap();
    // A valid ledger behind the link: still not trusted.
    let target = dir.join("elsewhere.json");
    fs::write(&target, ledger().to_json().unwrap()).unwrap();
    symlink(&target, state.join("ledger.json")).unwrap();

    let store = LedgerStore::new(&state);
    let (l, note) = store.load(PREFIX).unwrap();
    assert!(l.is_empty());
    assert_eq!(
        note,
        LoadNote::SetAside {
            reason: "is a symbolic link".into()
        }
    );
    let aside = fs::symlink_metadata(state.join("ledger.json.corrupt")).unwrap();
    assert!(aside.file_type().is_symlink());

    // Saving over a link replaces the link, never writes through it.
    symlink(&target, state.join("ledger.json")).unwrap();
    let before = fs::read(&target).unwrap();
    store.save(&Ledger::new(PREFIX)).unwrap();
    assert_eq!(fs::read(&target).unwrap(), before);
    assert!(fs::symlink_metadata(store.path()).unwrap().is_file());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_fifo_at_the_ledger_does_not_block() {
    let dir = temp_dir("fifo");
    let store = LedgerStore::new(&dir);
    nix::unistd::mkfifo(
        &store.path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let (l, note) = store.load(PREFIX).unwrap();
    assert!(l.is_empty());
    assert_eq!(
        note,
        LoadNote::SetAside {
            reason: "not a regular file".into()
        }
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_ledger_of_another_prefix_is_not_this_daemons() {
    let dir = temp_dir("prefix");
    let store = LedgerStore::new(&dir);
    store.save(&ledger()).unwrap();
    let (l, note) = store.load("rp-").unwrap();
    assert!(l.is_empty());
    assert!(is_set_aside(&note), "{note:?}");
    fs::remove_dir_all(dir).unwrap();
}
