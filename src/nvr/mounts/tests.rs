use super::*;

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn table(entries: &[(&str, &str)]) -> BTreeMap<PathBuf, PathBuf> {
    entries.iter().map(|(n, h)| (p(n), p(h))).collect()
}

fn host(m: &Mounts, nvr: &str) -> Option<PathBuf> {
    m.to_host(Path::new(nvr))
}

fn nvr(m: &Mounts, host: &str) -> Option<PathBuf> {
    m.to_nvr(Path::new(host))
}

/// Frigate in Docker: media and config bind-mounted from /srv/frigate.
fn docker() -> Mounts {
    Mounts::resolve(
        None,
        Path::new("/srv/frigate/storage"),
        Path::new("/srv/frigate/config/config.yml"),
    )
}

#[test]
fn docker_layout_is_implied_from_media_dir_and_config_folder() {
    let m = docker();
    assert_eq!(m.origin(), MountsOrigin::Implied);
    assert_eq!(
        host(
            &m,
            "/media/frigate/recordings/2026-11-24/10/front/00.00.mp4"
        ),
        Some(p(
            "/srv/frigate/storage/recordings/2026-11-24/10/front/00.00.mp4"
        ))
    );
    assert_eq!(
        host(&m, "/config/frigate.db"),
        Some(p("/srv/frigate/config/frigate.db"))
    );
    assert_eq!(host(&m, "/media/frigate"), Some(p("/srv/frigate/storage")));
    assert_eq!(host(&m, "/media/frigate/"), Some(p("/srv/frigate/storage")));
    assert_eq!(
        nvr(
            &m,
            "/srv/frigate/storage/replayd/_replay_front/playlist.ffconcat"
        ),
        Some(p("/media/frigate/replayd/_replay_front/playlist.ffconcat"))
    );
    // Not under either mount: the NVR cannot open it, and no guess is made.
    assert_eq!(host(&m, "/db/frigate.db"), None);
    assert_eq!(nvr(&m, "/var/lib/replayd/clip.mp4"), None);
    assert!(m.covers_host(Path::new("/srv/frigate/storage/replayd")));
    assert!(!m.covers_host(Path::new("/srv/frigate/other")));
}

#[test]
fn only_one_folder_moved_maps_the_other_to_itself() {
    let m = Mounts::resolve(
        None,
        Path::new("/srv/media"),
        Path::new("/config/config.yml"),
    );
    assert_eq!(
        m.entries(),
        &[
            Mount {
                nvr: p("/media/frigate"),
                host: p("/srv/media")
            },
            Mount {
                nvr: p("/config"),
                host: p("/config")
            },
        ]
    );
    assert_eq!(
        host(&m, "/config/frigate.db"),
        Some(p("/config/frigate.db"))
    );
    assert_eq!(host(&m, "/elsewhere/x"), None);

    let m = Mounts::resolve(
        None,
        Path::new("/media/frigate"),
        Path::new("/etc/frigate/config.yaml"),
    );
    assert_eq!(
        host(&m, "/config/frigate.db"),
        Some(p("/etc/frigate/frigate.db"))
    );
    assert_eq!(
        host(&m, "/media/frigate/clips"),
        Some(p("/media/frigate/clips"))
    );
}

#[test]
fn all_defaults_are_the_identity() {
    for m in [
        Mounts::resolve(
            None,
            Path::new("/media/frigate"),
            Path::new("/config/config.yml"),
        ),
        Mounts::resolve(
            None,
            Path::new("/media/frigate/"),
            Path::new("/config/config.yaml"),
        ),
        Mounts::resolve(
            Some(&BTreeMap::new()),
            Path::new("/media/frigate"),
            Path::new("/config/config.yml"),
        ),
        Mounts::identity(),
        Mounts::default(),
    ] {
        assert!(m.is_identity(), "{m:?}");
        assert_eq!(host(&m, "/anything/at/all"), Some(p("/anything/at/all")));
        assert_eq!(nvr(&m, "/anything/at/all"), Some(p("/anything/at/all")));
        assert_eq!(host(&m, "/a//b/./c/"), Some(p("/a/b/c")));
        assert!(m.covers_host(Path::new("/srv")));
        // Even the identity refuses what could walk anywhere.
        assert_eq!(host(&m, "/media/frigate/../../etc/shadow"), None);
        assert_eq!(host(&m, "relative/path"), None);
    }
    assert_eq!(
        Mounts::identity().describe(),
        "none (the NVR's paths are this host's paths)"
    );
}

#[test]
fn a_separately_mounted_recordings_folder_wins_and_shadows() {
    let t = table(&[
        ("/media/frigate", "/srv/frigate/storage"),
        ("/media/frigate/recordings", "/mnt/nas/recordings"),
        ("/config", "/srv/frigate/config"),
    ]);
    let m = Mounts::resolve(
        Some(&t),
        Path::new("/srv/frigate/storage"),
        Path::new("/x/c.yml"),
    );
    assert_eq!(m.origin(), MountsOrigin::Explicit);
    assert_eq!(
        host(
            &m,
            "/media/frigate/recordings/2026-11-24/10/front/00.00.mp4"
        ),
        Some(p("/mnt/nas/recordings/2026-11-24/10/front/00.00.mp4"))
    );
    assert_eq!(
        host(&m, "/media/frigate/recordings"),
        Some(p("/mnt/nas/recordings"))
    );
    assert_eq!(
        host(&m, "/media/frigate/clips/x.jpg"),
        Some(p("/srv/frigate/storage/clips/x.jpg"))
    );
    assert_eq!(
        nvr(&m, "/mnt/nas/recordings/a.mp4"),
        Some(p("/media/frigate/recordings/a.mp4"))
    );
    // The NVR sees the NAS at /media/frigate/recordings, not this folder.
    assert_eq!(nvr(&m, "/srv/frigate/storage/recordings/a.mp4"), None);
    assert_eq!(
        nvr(&m, "/srv/frigate/storage/replayd/_replay_front"),
        Some(p("/media/frigate/replayd/_replay_front"))
    );
}

#[test]
fn longest_prefix_wins_whatever_the_order_written() {
    let t = table(&[("/a/b/c", "/three"), ("/a", "/one"), ("/a/b", "/two")]);
    let m = Mounts::resolve(Some(&t), Path::new("/m"), Path::new("/c/c.yml"));
    assert_eq!(host(&m, "/a/x"), Some(p("/one/x")));
    assert_eq!(host(&m, "/a/b/x"), Some(p("/two/x")));
    assert_eq!(host(&m, "/a/b/c/x"), Some(p("/three/x")));
    assert_eq!(host(&m, "/a/b/cd"), Some(p("/two/cd")));
    let depths: Vec<usize> = m.entries().iter().map(|e| depth(&e.nvr)).collect();
    assert_eq!(depths, [4, 3, 2]);
    // Host prefixes nested the other way round.
    let t = table(&[("/x", "/srv"), ("/y", "/srv/deep")]);
    let m = Mounts::resolve(Some(&t), Path::new("/m"), Path::new("/c/c.yml"));
    assert_eq!(nvr(&m, "/srv/deep/f"), Some(p("/y/f")));
    assert_eq!(nvr(&m, "/srv/other/f"), Some(p("/x/other/f")));
}

#[test]
fn prefixes_match_whole_components_only() {
    let m = docker();
    assert_eq!(host(&m, "/media/frigatex/recordings/a.mp4"), None);
    assert_eq!(host(&m, "/configs/frigate.db"), None);
    assert_eq!(nvr(&m, "/srv/frigate/storagex/a.mp4"), None);
    assert_eq!(nvr(&m, "/srv/frigate/configuration"), None);
}

#[test]
fn dot_dot_is_refused_both_ways() {
    let m = docker();
    for bad in [
        "/media/frigate/../../etc/shadow",
        "/media/frigate/recordings/..",
        "/config/../media/frigate/x",
    ] {
        assert_eq!(host(&m, bad), None, "{bad}");
    }
    for bad in [
        "/srv/frigate/storage/../../../etc/shadow",
        "/srv/frigate/storage/replayd/..",
    ] {
        assert_eq!(nvr(&m, bad), None, "{bad}");
        assert!(!m.covers_host(Path::new(bad)), "{bad}");
    }
    assert_eq!(host(&m, "media/frigate/x"), None);
    assert_eq!(nvr(&m, ""), None);
}

#[test]
fn an_explicit_table_replaces_the_implied_mounts() {
    let t = table(&[("/media/frigate", "/srv/frigate/storage")]);
    let m = Mounts::resolve(
        Some(&t),
        Path::new("/srv/frigate/storage"),
        Path::new("/srv/frigate/config/config.yml"),
    );
    assert_eq!(m.entries().len(), 1);
    // /config is no longer implied: the table says all there is.
    assert_eq!(host(&m, "/config/frigate.db"), None);
    assert_eq!(
        m.describe(),
        "/media/frigate -> /srv/frigate/storage (nvr.mounts)"
    );

    // An NVR that really uses other paths maps them to themselves.
    let t = table(&[("/data/frigate", "/data/frigate")]);
    let m = Mounts::resolve(
        Some(&t),
        Path::new("/data/frigate"),
        Path::new("/etc/f/c.yml"),
    );
    assert_eq!(host(&m, "/data/frigate/x"), Some(p("/data/frigate/x")));
    assert_eq!(host(&m, "/media/frigate/x"), None);
}

#[test]
fn an_empty_table_leaves_the_implied_mounts() {
    let m = Mounts::resolve(
        Some(&BTreeMap::new()),
        Path::new("/srv/frigate/storage"),
        Path::new("/srv/frigate/config/config.yml"),
    );
    assert_eq!(m, docker());
}

#[test]
fn entries_that_escaped_validation_are_left_out() {
    let t = table(&[
        ("/ok", "/srv/ok"),
        ("rel", "/srv/rel"),
        ("/up", "/srv/../etc"),
    ]);
    let m = Mounts::resolve(Some(&t), Path::new("/m"), Path::new("/c/c.yml"));
    assert_eq!(
        m.entries(),
        &[Mount {
            nvr: p("/ok"),
            host: p("/srv/ok")
        }]
    );
    assert_eq!(host(&m, "/up/x"), None);
}

#[test]
fn describe_says_where_the_mounts_came_from() {
    assert_eq!(
        docker().describe(),
        "/media/frigate -> /srv/frigate/storage, /config -> /srv/frigate/config \
         (implied by nvr.media_dir and the NVR config's folder; set [nvr.mounts] to change)"
    );
}

#[test]
fn normalize_cleans_and_refuses() {
    assert_eq!(normalize(Path::new("/a//b/./c/")), Ok(p("/a/b/c")));
    assert_eq!(normalize(Path::new("/")), Ok(p("/")));
    assert_eq!(
        normalize(Path::new("a/b")),
        Err(MountPathError::NotAbsolute)
    );
    assert_eq!(normalize(Path::new("")), Err(MountPathError::NotAbsolute));
    assert_eq!(
        normalize(Path::new("./a")),
        Err(MountPathError::NotAbsolute)
    );
    assert_eq!(
        normalize(Path::new("/a/../b")),
        Err(MountPathError::ParentDir)
    );
}
