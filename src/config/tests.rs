use super::*;

const FILE: &str = "/etc/replayd/replayd.toml";

fn env() -> Environment {
    Environment::default()
}

fn parse_ok(text: &str) -> Config {
    match parse(text, Path::new(FILE), &env()) {
        Ok(cfg) => cfg,
        Err(e) => panic!("{text:?} failed: {e}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match parse(text, Path::new(FILE), &env()) {
        Ok(cfg) => panic!("{text:?} parsed: {cfg:?}"),
        Err(e) => e,
    }
}

#[test]
fn empty_file_gives_every_default() {
    let cfg = parse_ok("");
    assert_eq!(cfg, defaults(&env()));
    assert_eq!(cfg.nvr.config, None);
    assert_eq!(cfg.nvr.database, None);
    assert_eq!(cfg.nvr.media_dir, Path::new("/media/frigate"));
    assert_eq!(cfg.runtime.dir, Path::new("/run/replayd"));
    assert_eq!(cfg.control.socket, Path::new("/run/replayd/control.sock"));
    assert_eq!(cfg.control.socket_mode, 0o660);
    assert_eq!(cfg.control.admin_group, "replayd");
    assert_eq!(cfg.session.max_duration, Duration::from_secs(12 * 3600));
    assert_eq!(cfg.session.max_range, Duration::from_secs(6 * 3600));
    assert_eq!(cfg.ffmpeg.path, Path::new("ffmpeg"));
    assert_eq!(cfg.ffmpeg.ffprobe, Path::new("ffprobe"));
    assert_eq!(cfg.ffmpeg.stall_timeout, Duration::from_secs(60));
    assert_eq!(cfg.ffmpeg.kill_grace, Duration::from_secs(2));
    assert_eq!(cfg.log.target, LogTarget::Auto);
    assert_eq!(cfg.log.level, log::LevelFilter::Info);
    // version 2
    assert!(cfg.nvr.mounts.is_identity());
    assert_eq!(cfg.runtime.state_dir, Path::new("/var/lib/replayd"));
    assert_eq!(cfg.session.camera_prefix, "_replay_");
    assert_eq!(cfg.session.clip_mode, ClipMode::Auto);
    assert_eq!(cfg.session.replay_dir, Path::new("/media/frigate/replayd"));
    assert_eq!(
        cfg.session.import_dir,
        Path::new("/media/frigate/replayd-import")
    );
    assert_eq!(cfg.publish.to, Publisher::File);
    let frigate = &cfg.publish.frigate;
    assert_eq!(frigate.url.to_string(), "http://127.0.0.1:5000");
    assert_eq!(frigate.url.authority(), "127.0.0.1:5000");
    assert_eq!(frigate.token_file, None);
    assert_eq!(frigate.timeout, Duration::from_secs(10));
    assert_eq!(frigate.view_url, "http://127.0.0.1:5000");
}

#[test]
fn empty_sections_and_comments_give_defaults() {
    let text = "# nothing\n[nvr]\n[nvr.mounts]\n[runtime]\n[control]\n[session]\n[ffmpeg]\n\
                [publish]\n[publish.frigate]\n[log]\n";
    assert_eq!(parse_ok(text), defaults(&env()));
}

#[test]
fn runtime_directory_from_environment() {
    let cases: &[(Option<&str>, &str, &str)] = &[
        (None, "/run/replayd", "/run/replayd/control.sock"),
        (Some(""), "/run/replayd", "/run/replayd/control.sock"),
        (Some("/run/x"), "/run/x", "/run/x/control.sock"),
        (Some("/run/a:/run/b"), "/run/a", "/run/a/control.sock"),
        (Some(":/run/b"), "/run/replayd", "/run/replayd/control.sock"),
    ];
    for (var, dir, socket) in cases {
        let env = Environment::from_runtime_directory_var(var.map(OsStr::new));
        let cfg = parse("", Path::new(FILE), &env).unwrap();
        assert_eq!(cfg.runtime.dir, Path::new(dir), "{var:?}");
        assert_eq!(cfg.control.socket, Path::new(socket), "{var:?}");
        assert_eq!(defaults(&env), cfg, "{var:?}");
    }
    // Built by hand, still only the first entry counts.
    let env = Environment {
        runtime_directory: Some(PathBuf::from("/run/a:/run/b")),
        ..Environment::default()
    };
    assert_eq!(defaults(&env).runtime.dir, Path::new("/run/a"));
}

#[test]
fn state_directory_from_environment() {
    let cases: &[(Option<&str>, &str)] = &[
        (None, "/var/lib/replayd"),
        (Some(""), "/var/lib/replayd"),
        (Some("/var/lib/x"), "/var/lib/x"),
        (Some("/var/lib/a:/var/lib/b"), "/var/lib/a"),
    ];
    for (var, dir) in cases {
        let env = Environment::from_vars(None, var.map(OsStr::new), None);
        let cfg = parse("", Path::new(FILE), &env).unwrap();
        assert_eq!(cfg.runtime.state_dir, Path::new(dir), "{var:?}");
        assert_eq!(defaults(&env), cfg, "{var:?}");
    }
    let env = Environment::from_vars(None, Some(OsStr::new("/var/lib/env")), None);
    let cfg = parse("runtime.state_dir = \"/srv/state/\"", Path::new(FILE), &env).unwrap();
    assert_eq!(cfg.runtime.state_dir, Path::new("/srv/state"));
}

#[test]
fn mounts_are_implied_by_media_dir_and_the_nvr_config_folder() {
    // Frigate in Docker, its folders bind-mounted from /srv/frigate.
    let text = "[nvr]\nconfig = \"/srv/frigate/config/config.yml\"\nmedia_dir = \"/srv/frigate/storage\"\n";
    let cfg = parse_ok(text);
    let m = &cfg.nvr.mounts;
    assert_eq!(m.origin(), crate::nvr::mounts::MountsOrigin::Implied);
    assert_eq!(
        m.to_host(Path::new("/config/frigate.db")),
        Some(PathBuf::from("/srv/frigate/config/frigate.db"))
    );
    assert_eq!(
        m.to_host(Path::new("/media/frigate/recordings/a.mp4")),
        Some(PathBuf::from("/srv/frigate/storage/recordings/a.mp4"))
    );
    assert_eq!(
        cfg.session.replay_dir,
        Path::new("/srv/frigate/storage/replayd")
    );
    assert!(m.covers_host(&cfg.session.replay_dir));

    // $CONFIG_FILE places the NVR config when nvr.config does not.
    let env = Environment::from_vars(None, None, Some(OsStr::new("/srv/f/config.yml")));
    let cfg = parse("", Path::new(FILE), &env).unwrap();
    assert_eq!(
        cfg.nvr.mounts.to_host(Path::new("/config/frigate.db")),
        Some(PathBuf::from("/srv/f/frigate.db"))
    );
    assert_eq!(defaults(&env), cfg);
    // nvr.config beats $CONFIG_FILE; an empty $CONFIG_FILE is unset.
    let cfg = parse("nvr.config = \"/config/config.yml\"", Path::new(FILE), &env).unwrap();
    assert!(cfg.nvr.mounts.is_identity());
    let env = Environment::from_vars(None, None, Some(OsStr::new("")));
    assert!(defaults(&env).nvr.mounts.is_identity());
}

#[test]
fn an_explicit_mounts_table_replaces_the_implied_mounts() {
    let text = r#"
[nvr]
media_dir = "/srv/frigate/storage"

[nvr.mounts]
"/media/frigate" = "/srv/frigate/storage/"
"/media/frigate/recordings/" = "/mnt/nas//recordings"
"#;
    let cfg = parse_ok(text);
    let m = &cfg.nvr.mounts;
    assert_eq!(m.origin(), crate::nvr::mounts::MountsOrigin::Explicit);
    assert_eq!(
        m.to_host(Path::new("/media/frigate/recordings/a.mp4")),
        Some(PathBuf::from("/mnt/nas/recordings/a.mp4"))
    );
    assert_eq!(m.to_host(Path::new("/config/frigate.db")), None);
    assert_eq!(
        m.describe(),
        "/media/frigate/recordings -> /mnt/nas/recordings, \
         /media/frigate -> /srv/frigate/storage (nvr.mounts)"
    );
    // An empty table (a bare header, its examples commented out) is no table.
    let cfg = parse_ok("[nvr]\nmedia_dir = \"/srv/m\"\nmounts = {}\n");
    assert_eq!(
        cfg.nvr.mounts.to_host(Path::new("/media/frigate/x")),
        Some(PathBuf::from("/srv/m/x"))
    );
}

#[test]
fn runtime_dir_key_beats_environment_and_moves_the_socket() {
    let env = Environment::from_runtime_directory_var(Some(OsStr::new("/run/env")));
    let cfg = parse("[runtime]\ndir = \"/run/key\"\n", Path::new(FILE), &env).unwrap();
    assert_eq!(cfg.runtime.dir, Path::new("/run/key"));
    assert_eq!(cfg.control.socket, Path::new("/run/key/control.sock"));
    let cfg = parse(
        "[runtime]\ndir = \"/run/key\"\n[control]\nsocket = \"/tmp/s.sock\"\n",
        Path::new(FILE),
        &env,
    )
    .unwrap();
    assert_eq!(cfg.control.socket, Path::new("/tmp/s.sock"));
}

#[test]
fn every_key_set() {
    let text = r#"
[nvr]
config = "/srv/nvr/config.yml"
database = "/srv/nvr/frigate.db"
media_dir = "/srv/media"

[nvr.mounts]
"/media/frigate" = "/srv/media"
"/config" = "/srv/nvr"

[runtime]
dir = "/run/rd"
state_dir = "/srv/state"

[control]
socket = "/run/rd/ctl.sock"
socket_mode = "0600"
admin_group = "video"

[session]
max_duration = "1h30m"
max_range = "45m"
camera_prefix = "rp-"
clip_mode = "copy"
replay_dir = "/srv/replays"
import_dir = "/srv/imports"

[ffmpeg]
path = "/usr/local/bin/ffmpeg"
ffprobe = "/usr/local/bin/ffprobe"
stall_timeout = "90s"
kill_grace = "500ms"

[publish]
to = "frigate"

[publish.frigate]
url = "http://frigate.lan:8971/"
token_file = "/etc/replayd/frigate.token"
timeout = "2.5s"
view_url = "https://nvr.example.com/frigate/"

[log]
target = "syslog"
level = "debug"
"#;
    let cfg = parse_ok(text);
    let expected = Config {
        nvr: NvrSettings {
            config: Some("/srv/nvr/config.yml".into()),
            database: Some("/srv/nvr/frigate.db".into()),
            media_dir: "/srv/media".into(),
            mounts: crate::nvr::mounts::Mounts::resolve(
                Some(
                    &[("/media/frigate", "/srv/media"), ("/config", "/srv/nvr")]
                        .into_iter()
                        .map(|(n, h)| (PathBuf::from(n), PathBuf::from(h)))
                        .collect(),
                ),
                Path::new("/"),
                Path::new("/"),
            ),
        },
        runtime: RuntimeSettings {
            dir: "/run/rd".into(),
            state_dir: "/srv/state".into(),
        },
        control: ControlSettings {
            socket: "/run/rd/ctl.sock".into(),
            socket_mode: 0o600,
            admin_group: "video".into(),
            client_idle_timeout: Duration::from_secs(60),
            max_clients_per_user: 64,
        },
        session: SessionSettings {
            max_duration: Duration::from_secs(5400),
            max_range: Duration::from_secs(2700),
            camera_prefix: "rp-".into(),
            clip_mode: ClipMode::Copy,
            replay_dir: "/srv/replays".into(),
            import_dir: "/srv/imports".into(),
        },
        ffmpeg: FfmpegSettings {
            path: "/usr/local/bin/ffmpeg".into(),
            ffprobe: "/usr/local/bin/ffprobe".into(),
            stall_timeout: Duration::from_secs(90),
            kill_grace: Duration::from_millis(500),
        },
        publish: PublishSettings {
            to: Publisher::Frigate,
            frigate: FrigateSettings {
                url: HttpUrl {
                    host: "frigate.lan".into(),
                    port: 8971,
                },
                token_file: Some("/etc/replayd/frigate.token".into()),
                timeout: Duration::from_millis(2500),
                view_url: "https://nvr.example.com/frigate/".into(),
            },
        },
        log: LogSettings {
            target: LogTarget::Syslog,
            level: log::LevelFilter::Debug,
        },
    };
    assert_eq!(cfg, expected);
}

#[test]
fn single_keys() {
    type Check = fn(&Config) -> bool;
    let cases: &[(&str, Check)] = &[
        ("nvr.config = \"/c.yml\"", |c| {
            c.nvr.config.as_deref() == Some(Path::new("/c.yml"))
        }),
        ("nvr.database = \"/d.db\"", |c| {
            c.nvr.database.as_deref() == Some(Path::new("/d.db"))
        }),
        ("nvr.media_dir = \"/m\"", |c| {
            c.nvr.media_dir == Path::new("/m")
        }),
        ("runtime.dir = \"/r\"", |c| c.runtime.dir == Path::new("/r")),
        ("control.socket = \"/s\"", |c| {
            c.control.socket == Path::new("/s")
        }),
        ("control.socket_mode = \"660\"", |c| {
            c.control.socket_mode == 0o660
        }),
        ("control.socket_mode = \"0o640\"", |c| {
            c.control.socket_mode == 0o640
        }),
        ("control.socket_mode = \"0777\"", |c| {
            c.control.socket_mode == 0o777
        }),
        ("control.socket_mode = \"0\"", |c| {
            c.control.socket_mode == 0
        }),
        ("control.socket_mode = 0o640", |c| {
            c.control.socket_mode == 0o640
        }),
        ("control.socket_mode = 660", |c| {
            c.control.socket_mode == 0o660
        }),
        ("control.socket_mode = 0x1a0", |c| {
            c.control.socket_mode == 0o640
        }),
        ("control.admin_group = \"wheel\"", |c| {
            c.control.admin_group == "wheel"
        }),
        ("session.max_duration = \"2d\"", |c| {
            c.session.max_duration == Duration::from_secs(172_800)
        }),
        ("session.max_range = \"90s\"", |c| {
            c.session.max_range == Duration::from_secs(90)
        }),
        ("ffmpeg.path = \"ff\"", |c| c.ffmpeg.path == Path::new("ff")),
        ("ffmpeg.ffprobe = \"fp\"", |c| {
            c.ffmpeg.ffprobe == Path::new("fp")
        }),
        ("ffmpeg.stall_timeout = \"1m\"", |c| {
            c.ffmpeg.stall_timeout == Duration::from_secs(60)
        }),
        ("ffmpeg.kill_grace = \"250ms\"", |c| {
            c.ffmpeg.kill_grace == Duration::from_millis(250)
        }),
        ("log.target = \"auto\"", |c| c.log.target == LogTarget::Auto),
        ("log.target = \"journal\"", |c| {
            c.log.target == LogTarget::Journal
        }),
        ("log.target = \"syslog\"", |c| {
            c.log.target == LogTarget::Syslog
        }),
        ("log.target = \"stderr\"", |c| {
            c.log.target == LogTarget::Stderr
        }),
        ("log.level = \"error\"", |c| {
            c.log.level == log::LevelFilter::Error
        }),
        ("log.level = \"warn\"", |c| {
            c.log.level == log::LevelFilter::Warn
        }),
        ("log.level = \"info\"", |c| {
            c.log.level == log::LevelFilter::Info
        }),
        ("log.level = \"debug\"", |c| {
            c.log.level == log::LevelFilter::Debug
        }),
        ("log.level = \"trace\"", |c| {
            c.log.level == log::LevelFilter::Trace
        }),
        ("log.level = \"off\"", |c| {
            c.log.level == log::LevelFilter::Off
        }),
        ("session = { max_range = \"1h\" }", |c| {
            c.session.max_range == Duration::from_secs(3600)
        }),
        ("runtime.state_dir = \"/s\"", |c| {
            c.runtime.state_dir == Path::new("/s")
        }),
        ("session.camera_prefix = \"x\"", |c| {
            c.session.camera_prefix == "x"
        }),
        ("session.camera_prefix = \"Replay-2_\"", |c| {
            c.session.camera_prefix == "Replay-2_"
        }),
        ("session.clip_mode = \"auto\"", |c| {
            c.session.clip_mode == ClipMode::Auto
        }),
        ("session.clip_mode = \"link\"", |c| {
            c.session.clip_mode == ClipMode::Link
        }),
        ("session.clip_mode = \"copy\"", |c| {
            c.session.clip_mode == ClipMode::Copy
        }),
        ("session.replay_dir = \"/r/./x/\"", |c| {
            c.session.replay_dir == Path::new("/r/x")
        }),
        ("session.import_dir = \"/i\"", |c| {
            c.session.import_dir == Path::new("/i")
        }),
        ("nvr.media_dir = \"/m\"", |c| {
            c.session.replay_dir == Path::new("/m/replayd")
                && c.session.import_dir == Path::new("/m/replayd-import")
        }),
        ("publish.to = \"file\"", |c| c.publish.to == Publisher::File),
        ("publish.to = \"frigate\"", |c| {
            c.publish.to == Publisher::Frigate
        }),
        ("publish.frigate.url = \"http://nvr\"", |c| {
            c.publish.frigate.url.to_string() == "http://nvr:80"
                && c.publish.frigate.view_url == "http://nvr:80"
        }),
        ("publish.frigate.url = \"http://[::1]:5000/\"", |c| {
            c.publish.frigate.url.host == "::1" && c.publish.frigate.url.port == 5000
        }),
        ("publish.frigate.token_file = \"\"", |c| {
            c.publish.frigate.token_file.is_none()
        }),
        ("publish.frigate.token_file = \"/t\"", |c| {
            c.publish.frigate.token_file.as_deref() == Some(Path::new("/t"))
        }),
        ("publish.frigate.timeout = \"500ms\"", |c| {
            c.publish.frigate.timeout == Duration::from_millis(500)
        }),
        ("publish.frigate.view_url = \"\"", |c| {
            c.publish.frigate.view_url == "http://127.0.0.1:5000"
        }),
        ("publish.frigate.view_url = \"http://nvr.lan:5000\"", |c| {
            c.publish.frigate.view_url == "http://nvr.lan:5000"
        }),
        (
            "publish.frigate = { url = \"http://a:1\", view_url = \"https://b\" }",
            |c| {
                c.publish.frigate.url.authority() == "a:1"
                    && c.publish.frigate.view_url == "https://b"
            },
        ),
    ];
    for (text, check) in cases {
        let cfg = parse_ok(text);
        assert!(check(&cfg), "{text}: {cfg:?}");
    }
}

#[test]
fn invalid_inputs_name_file_line_and_key() {
    // (text, line, key, fragment of the message)
    let cases: &[(&str, usize, Option<&str>, &str)] = &[
        // unknown keys
        (
            "[session]\nmax_durration = \"1h\"\n",
            2,
            Some("session.max_durration"),
            "unknown key (expected one of max_duration, max_range, camera_prefix, \
             clip_mode, replay_dir, import_dir)",
        ),
        (
            "\n\n[sesion]\n",
            3,
            Some("sesion"),
            "unknown key (expected one of nvr, runtime, control, session, ffmpeg, publish, log)",
        ),
        (
            "[runtime]\ndirectory = \"/x\"\n",
            2,
            Some("runtime.directory"),
            "unknown key (expected one of dir, state_dir)",
        ),
        (
            "[log]\nlevel = \"info\"\nformat = \"json\"\n",
            3,
            Some("log.format"),
            "unknown key",
        ),
        (
            "control = { socket = \"/s\", mode = \"0600\" }\n",
            1,
            Some("control.mode"),
            "unknown key",
        ),
        (
            "ffmpeg.timeout = \"1s\"\n",
            1,
            Some("ffmpeg.timeout"),
            "unknown key",
        ),
        ("[nvr.extra]\na = 1\n", 1, Some("nvr.extra"), "unknown key"),
        ("top = 1\n", 1, Some("top"), "unknown key"),
        // wrong types
        (
            "[session]\n\nmax_duration = 5\n",
            3,
            Some("session.max_duration"),
            "expected a duration string",
        ),
        (
            "[ffmpeg]\nkill_grace = true\n",
            2,
            Some("ffmpeg.kill_grace"),
            "invalid type: boolean",
        ),
        (
            "[nvr]\nmedia_dir = 7\n",
            2,
            Some("nvr.media_dir"),
            "invalid type: integer `7`, expected a string",
        ),
        (
            "[control]\nsocket_mode = true\n",
            2,
            Some("control.socket_mode"),
            "expected an octal mode",
        ),
        (
            "[control]\nsocket_mode = 1.5\n",
            2,
            Some("control.socket_mode"),
            "expected an octal mode",
        ),
        (
            "[control]\nadmin_group = [\"a\"]\n",
            2,
            Some("control.admin_group"),
            "invalid type: array",
        ),
        ("session = 5\n", 1, Some("session"), "expected a table"),
        (
            "[log]\nlevel = { a = 1 }\n",
            2,
            Some("log.level"),
            "invalid type: table",
        ),
        (
            "[[session]]\nmax_range = \"1h\"\n",
            1,
            Some("session"),
            "invalid type: array, expected a table",
        ),
        ("\n[[nvr]]\n[[nvr]]\n", 2, Some("nvr"), "expected a table"),
        ("log = [1, 2]\n", 1, Some("log"), "expected a table"),
        // bad values
        (
            "[session]\nmax_duration = \"0s\"\n",
            2,
            Some("session.max_duration"),
            "greater than zero",
        ),
        (
            "[session]\nmax_duration = \"-5m\"\n",
            2,
            Some("session.max_duration"),
            "must be positive",
        ),
        (
            "[session]\nmax_range = \"12\"\n",
            2,
            Some("session.max_range"),
            "missing unit",
        ),
        (
            "[session]\nmax_range = \"1h1h\"\n",
            2,
            Some("session.max_range"),
            "invalid duration \"1h1h\": units must go from largest to smallest",
        ),
        (
            "[session]\nmax_range = \"\"\n",
            2,
            Some("session.max_range"),
            "empty duration",
        ),
        (
            "[ffmpeg]\nstall_timeout = \"10min\"\n",
            2,
            Some("ffmpeg.stall_timeout"),
            "unknown unit \"min\"",
        ),
        (
            "[ffmpeg]\nkill_grace = \"99999d\"\n",
            2,
            Some("ffmpeg.kill_grace"),
            "too large",
        ),
        (
            "[log]\nlevel = \"verbose\"\n",
            2,
            Some("log.level"),
            "expected one of error, warn, info, debug, trace, off",
        ),
        (
            "[log]\nlevel = \"INFO\"\n",
            2,
            Some("log.level"),
            "invalid value",
        ),
        (
            "[log]\ntarget = \"file\"\n",
            2,
            Some("log.target"),
            "expected one of auto, journal, syslog, stderr",
        ),
        (
            "[control]\nsocket_mode = \"0888\"\n",
            2,
            Some("control.socket_mode"),
            "octal digits",
        ),
        (
            "[control]\nsocket_mode = \"1777\"\n",
            2,
            Some("control.socket_mode"),
            "out of range",
        ),
        (
            "[control]\nsocket_mode = \"\"\n",
            2,
            Some("control.socket_mode"),
            "invalid mode",
        ),
        (
            "[control]\nsocket_mode = 0o1777\n",
            2,
            Some("control.socket_mode"),
            "out of range",
        ),
        (
            "[control]\nsocket_mode = 1000\n",
            2,
            Some("control.socket_mode"),
            "out of range",
        ),
        (
            "[control]\nsocket_mode = 689\n",
            2,
            Some("control.socket_mode"),
            "octal digits",
        ),
        (
            "[control]\nsocket_mode = -1\n",
            2,
            Some("control.socket_mode"),
            "out of range",
        ),
        (
            "[control]\nadmin_group = \"\"\n",
            2,
            Some("control.admin_group"),
            "must not be empty",
        ),
        (
            "[control]\nadmin_group = \"a b\"\n",
            2,
            Some("control.admin_group"),
            "invalid group name",
        ),
        (
            "[control]\nsocket = \"\"\n",
            2,
            Some("control.socket"),
            "must not be empty",
        ),
        (
            "[control]\nsocket = \"ctl.sock\"\n",
            2,
            Some("control.socket"),
            "must be absolute",
        ),
        (
            "[nvr]\nconfig = \"\"\n",
            2,
            Some("nvr.config"),
            "must not be empty",
        ),
        (
            "[nvr]\ndatabase = \"db/frigate.db\"\n",
            2,
            Some("nvr.database"),
            "must be absolute",
        ),
        (
            "[nvr]\nmedia_dir = \"\"\n",
            2,
            Some("nvr.media_dir"),
            "must not be empty",
        ),
        (
            "[nvr]\nmedia_dir = \"/a\\u0000b\"\n",
            2,
            Some("nvr.media_dir"),
            "NUL",
        ),
        (
            "[runtime]\ndir = \"\"\n",
            2,
            Some("runtime.dir"),
            "must not be empty",
        ),
        (
            "[ffmpeg]\npath = \"\"\n",
            2,
            Some("ffmpeg.path"),
            "must not be empty",
        ),
        (
            "[ffmpeg]\nffprobe = \"bin/ffprobe\"\n",
            2,
            Some("ffmpeg.ffprobe"),
            "absolute path",
        ),
        // version 2 keys
        (
            "[publish.frigate]\nurl = \"http://a\"\ntoken = \"x\"\n",
            3,
            Some("publish.frigate.token"),
            "unknown key (expected one of url, token_file, timeout, view_url)",
        ),
        (
            "[publish]\nto = \"mqtt\"\n",
            2,
            Some("publish.to"),
            "expected one of file, frigate",
        ),
        (
            "[publish.frigate]\nurl = \"https://127.0.0.1:8971\"\n",
            2,
            Some("publish.frigate.url"),
            "only http://",
        ),
        (
            "[publish.frigate]\nurl = \"http://127.0.0.1:5000/api\"\n",
            2,
            Some("publish.frigate.url"),
            "must not have a path",
        ),
        (
            "[publish.frigate]\nurl = \"127.0.0.1:5000\"\n",
            2,
            Some("publish.frigate.url"),
            "expected http://HOST[:PORT]",
        ),
        (
            "[publish.frigate]\nurl = 5000\n",
            2,
            Some("publish.frigate.url"),
            "invalid type: integer",
        ),
        (
            "[publish.frigate]\ntimeout = \"0s\"\n",
            2,
            Some("publish.frigate.timeout"),
            "greater than zero",
        ),
        (
            "[publish.frigate]\ntoken_file = \"token\"\n",
            2,
            Some("publish.frigate.token_file"),
            "must be absolute",
        ),
        (
            "[publish.frigate]\nview_url = \"nvr.lan:5000\"\n",
            2,
            Some("publish.frigate.view_url"),
            "invalid URL",
        ),
        (
            "[session]\nclip_mode = \"hardlink\"\n",
            2,
            Some("session.clip_mode"),
            "expected one of auto, link, copy",
        ),
        (
            "[session]\ncamera_prefix = \"\"\n",
            2,
            Some("session.camera_prefix"),
            "invalid prefix",
        ),
        (
            "[session]\ncamera_prefix = \"replay.\"\n",
            2,
            Some("session.camera_prefix"),
            "a-z, A-Z, 0-9",
        ),
        (
            "[session]\ncamera_prefix = \"../\"\n",
            2,
            Some("session.camera_prefix"),
            "invalid prefix",
        ),
        (
            "[session]\nreplay_dir = \"replays\"\n",
            2,
            Some("session.replay_dir"),
            "must be absolute",
        ),
        (
            "[session]\nreplay_dir = \"/media/frigate/../x\"\n",
            2,
            Some("session.replay_dir"),
            "must not contain '..'",
        ),
        (
            "[session]\nreplay_dir = \"/media/frigate/\"\n",
            2,
            Some("session.replay_dir"),
            "must not be the media root",
        ),
        (
            "[session]\nimport_dir = \"/media/frigate/replayd/in\"\n",
            2,
            Some("session.import_dir"),
            "must not be the same folder or inside one another",
        ),
        (
            "[session]\nreplay_dir = \"/media/frigate/replayd-import/r\"\n",
            2,
            Some("session.replay_dir"),
            "inside one another",
        ),
        (
            "[runtime]\nstate_dir = \"\"\n",
            2,
            Some("runtime.state_dir"),
            "must not be empty",
        ),
        (
            "[nvr.mounts]\n\"/media/frigate\" = \"srv/frigate\"\n",
            2,
            Some("nvr.mounts.\"/media/frigate\""),
            "path \"srv/frigate\" must be absolute",
        ),
        (
            "[nvr.mounts]\n\"media/frigate\" = \"/srv/frigate\"\n",
            2,
            Some("nvr.mounts.\"media/frigate\""),
            "NVR path \"media/frigate\" must be absolute",
        ),
        (
            "[nvr.mounts]\n\"/media/frigate/..\" = \"/srv/frigate\"\n",
            2,
            Some("nvr.mounts.\"/media/frigate/..\""),
            "must not contain '..'",
        ),
        (
            "[nvr.mounts]\n\"/config\" = \"/srv/../etc\"\n",
            2,
            Some("nvr.mounts.\"/config\""),
            "must not contain '..'",
        ),
        (
            "[nvr.mounts]\n\"\" = \"/srv\"\n",
            2,
            Some("nvr.mounts.\"\""),
            "NVR path must not be empty",
        ),
        (
            "[nvr.mounts]\n\"/a\" = \"/srv/a\"\n\"/a/\" = \"/srv/b\"\n",
            3,
            Some("nvr.mounts.\"/a/\""),
            "same NVR path prefix as \"/a\"",
        ),
        (
            "[nvr.mounts]\n\"/media/frigate\" = 1\n",
            2,
            Some("nvr.mounts.\"/media/frigate\""),
            "invalid type: integer",
        ),
        (
            "[nvr.mounts]\n\"/a\" = \"/b\"\n\"/a\" = \"/c\"\n",
            3,
            Some("nvr.mounts.\"/a\""),
            "duplicate key",
        ),
        (
            "[nvr]\nmounts = 1\n",
            2,
            Some("nvr.mounts"),
            "invalid type: integer",
        ),
        // syntax
        ("[session]\nmax_duration = \n", 2, None, "invalid TOML"),
        ("[session\n", 1, None, "invalid TOML"),
        ("a = \"unterminated\n", 1, None, "invalid TOML"),
        (
            "[session]\nmax_range = \"1h\"\nmax_range = \"2h\"\n",
            3,
            Some("session.max_range"),
            "duplicate key",
        ),
        ("[log]\n[session]\n[log]\n", 3, Some("log"), "duplicate key"),
        (
            "[nvr]\nmedia_dir = \"/a\"\n\n[log]\nlevel = \"info\"\nlevel = \"warn\"\n",
            6,
            Some("log.level"),
            "duplicate key",
        ),
        (
            "\"session\".max_range = 3\n",
            1,
            Some("session.max_range"),
            "expected a duration",
        ),
        (
            "[ffmpeg]\npath = \"\"\"\nffmpeg\"\"\"\n# note\nkill_grace = 3\n",
            5,
            Some("ffmpeg.kill_grace"),
            "expected a duration",
        ),
        (
            "[control]\nsocket = \"/s\"\n[log]\n[control.x]\n",
            4,
            Some("control.x"),
            "unknown key (expected one of socket, socket_mode, admin_group, client_idle_timeout, max_clients_per_user)",
        ),
    ];
    for (text, line, key, fragment) in cases {
        let e = parse_err(text);
        let msg = e.to_string();
        assert_eq!(e.file, Path::new(FILE), "{text:?}");
        assert_eq!(e.line, Some(*line), "{text:?}: {msg}");
        assert_eq!(e.key.as_deref(), *key, "{text:?}: {msg}");
        let prefix = match key {
            Some(key) => format!("{FILE}:{line}: key '{key}': "),
            None => format!("{FILE}:{line}: "),
        };
        assert!(msg.starts_with(&prefix), "{text:?}: {msg}");
        assert!(msg.contains(fragment), "{text:?}: {msg}");
        assert!(!msg.contains('\n'), "{text:?}: {msg}");
    }
}

#[test]
fn example_from_the_brief() {
    let text = "[nvr]\n\n[runtime]\n\n[control]\n[session]\nmax_durration = \"1h\"\n";
    assert_eq!(
        parse_err(text).to_string(),
        "/etc/replayd/replayd.toml:7: key 'session.max_durration': \
             unknown key (expected one of max_duration, max_range, camera_prefix, \
             clip_mode, replay_dir, import_dir)"
    );
}

#[test]
fn socket_path_length_is_checked() {
    let long = format!("/{}", "d".repeat(120));
    let e = parse_err(&format!("[control]\nsocket = \"{long}\"\n"));
    assert_eq!(e.key.as_deref(), Some("control.socket"));
    assert!(e.message.contains("too long"), "{e}");
    let e = parse_err(&format!("[runtime]\ndir = \"{long}\"\n"));
    assert_eq!(e.key.as_deref(), Some("runtime.dir"));
    assert_eq!(e.line, Some(2));
    // A long runtime dir is fine when the socket lives elsewhere.
    parse_ok(&format!(
        "[runtime]\ndir = \"{long}\"\n[control]\nsocket = \"/s\"\n"
    ));
}

#[test]
fn durations_use_the_shared_grammar() {
    // The grammar itself is tested in crate::duration; here, that the key's
    // message quotes the value and gives the reason.
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
    assert_eq!(
        parse_duration("10min"),
        Err("invalid duration \"10min\": unknown unit \"min\" (expected ms, s, m, h or d)".into())
    );
    assert_eq!(
        parse_duration(""),
        Err("invalid duration \"\": empty duration (expected e.g. 90s, 1h30m, 500ms)".into())
    );
}

#[test]
fn frigate_urls() {
    let ok: &[(&str, &str, u16)] = &[
        ("http://127.0.0.1:5000", "127.0.0.1", 5000),
        ("http://127.0.0.1:5000/", "127.0.0.1", 5000),
        ("HTTP://Frigate.LAN:5000", "frigate.lan", 5000),
        ("http://frigate", "frigate", 80),
        ("http://[::1]:5000", "::1", 5000),
        ("http://[fe80::1]", "fe80::1", 80),
        ("http://nvr-1.example.com:65535", "nvr-1.example.com", 65535),
    ];
    for (text, host, port) in ok {
        let url: HttpUrl = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((url.host.as_str(), url.port), (*host, *port), "{text}");
    }
    assert_eq!(
        "http://[::1]:5000".parse::<HttpUrl>().unwrap().to_string(),
        "http://[::1]:5000"
    );
    let bad = [
        "",
        "127.0.0.1:5000",
        "https://127.0.0.1:8971",
        "ftp://nvr",
        "http://",
        "http://:5000",
        "http://nvr:",
        "http://nvr:0",
        "http://nvr:65536",
        "http://nvr:+5000",
        "http://nvr:50a0",
        "http://nvr/api",
        "http://nvr//",
        "http://nvr?x=1",
        "http://nvr#top",
        "http://user:pw@nvr",
        "http://nv r",
        "http://nvr_1",
        "http://.nvr",
        "http://[::1",
        "http://[nope]:5000",
        "http://[::1]5000",
        "http://a:1:2",
    ];
    for text in bad {
        assert!(text.parse::<HttpUrl>().is_err(), "{text:?} parsed");
    }
}

#[test]
fn clip_mode_and_publisher_spellings_round_trip() {
    for m in [ClipMode::Auto, ClipMode::Link, ClipMode::Copy] {
        assert_eq!(m.as_str().parse::<ClipMode>(), Ok(m));
        assert_eq!(m.to_string(), m.as_str());
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            format!("\"{}\"", m.as_str())
        );
    }
    for p in [Publisher::File, Publisher::Frigate] {
        assert_eq!(p.as_str().parse::<Publisher>(), Ok(p));
        assert_eq!(p.to_string(), p.as_str());
    }
}

#[test]
fn log_target_spellings_round_trip() {
    for t in [
        LogTarget::Auto,
        LogTarget::Journal,
        LogTarget::Syslog,
        LogTarget::Stderr,
    ] {
        assert_eq!(t.as_str().parse::<LogTarget>(), Ok(t));
        assert_eq!(t.to_string(), t.as_str());
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replayd-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_missing_default_file_means_defaults() {
    let dir = temp_dir("missing-default");
    let cfg = load_file(&dir.join("replayd.toml"), true, &env()).unwrap();
    assert_eq!(cfg, defaults(&env()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_missing_explicit_file_is_an_error() {
    let dir = temp_dir("missing-explicit");
    let path = dir.join("nope.toml");
    let e = load(Some(&path), &env()).unwrap_err();
    assert_eq!(e.file, path);
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read", path.display())),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_reads_and_names_the_file() {
    let dir = temp_dir("load");
    let path = dir.join("replayd.toml");
    std::fs::write(&path, "[log]\nlevel = \"warn\"\n").unwrap();
    let cfg = load(Some(&path), &env()).unwrap();
    assert_eq!(cfg.log.level, log::LevelFilter::Warn);

    std::fs::write(&path, "[log]\nlevel = \"loud\"\n").unwrap();
    let e = load(Some(&path), &env()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:2: key 'log.level': ", path.display())),
        "{e}"
    );

    std::fs::write(&path, b"# ok\n# \xff\n").unwrap();
    let e = load(Some(&path), &env()).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.to_string().contains("UTF-8"), "{e}");

    // A directory exists but cannot be read as a file: an error even for the default path.
    let e = load_file(&dir, true, &env()).unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
