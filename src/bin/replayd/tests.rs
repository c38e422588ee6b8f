use super::*;

fn parse(args: &[&str]) -> Result<Command, String> {
    parse_args(args.iter().map(OsString::from))
}

#[test]
fn command_lines() {
    assert_eq!(parse(&[]), Ok(Command::Run(Args::default())));
    assert_eq!(
        parse(&["--config", "/x.toml", "--check-config"]),
        Ok(Command::Run(Args {
            config: Some("/x.toml".into()),
            check_config: true
        }))
    );
    assert_eq!(
        parse(&["--config=/y.toml"]),
        Ok(Command::Run(Args {
            config: Some("/y.toml".into()),
            check_config: false
        }))
    );
    assert_eq!(parse(&["--version"]), Ok(Command::Version));
    assert_eq!(parse(&["-h"]), Ok(Command::Help));
    for bad in [&["--config"][..], &["--config="], &["--bogus"], &["extra"]] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
