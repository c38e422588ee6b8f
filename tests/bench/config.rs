//! Part 6 of the bench, the NVR config: how long a reload's parse takes for
//! a wide merge (the 80,000-key config whose merge was quadratic) and how
//! fast an alias bomb is refused. In-process, through the library.

use replayd::nvr::config::NvrConfig;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct ConfigTimes {
    /// (keys, median parse time)
    pub wide: Vec<(usize, Duration)>,
    /// (name, text size, median time to refuse)
    pub bombs: Vec<(&'static str, usize, Duration)>,
}

/// `n / 2` keys merged under `n / 2` explicit ones.
fn wide_merge(n: usize) -> String {
    let mut text = String::from("defaults: &defaults\n");
    for i in 0..n / 2 {
        text.push_str(&format!("  merged_{i:06}: {i}\n"));
    }
    text.push_str("cameras:\n  wide:\n    <<: *defaults\n");
    for i in 0..n / 2 {
        text.push_str(&format!("    explicit_{i:06}: {i}\n"));
    }
    text
}

fn alias_bomb() -> String {
    let big = vec!["0"; 50_000].join(",");
    let bomb = vec!["*big"; 4_000].join(",");
    format!("cameras: {{}}\nbig: &big [{big}]\nbomb: [{bomb}]\n")
}

fn merge_bomb() -> String {
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}: {i}")).collect();
    let mut text = format!("cameras: {{}}\nl0: &l0 {{{}}}\n", keys.join(", "));
    for level in 1..=11 {
        let prev = level - 1;
        text.push_str(&format!(
            "l{level}: &l{level} {{<<: [*l{prev}, *l{prev}]}}\n"
        ));
    }
    text
}

fn median_parse(text: &str, reps: usize, want_ok: bool) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let started = Instant::now();
            let result = NvrConfig::parse(text, Path::new("/config/config.yml"));
            let took = started.elapsed();
            assert_eq!(result.is_ok(), want_ok, "{:?}", result.err());
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

pub fn run(reps: usize) -> ConfigTimes {
    let wide = [20_000, 80_000]
        .into_iter()
        .map(|n| (n, median_parse(&wide_merge(n), reps, true)))
        .collect();
    let bombs = [
        ("alias bomb", alias_bomb()),
        ("merge fan-out", merge_bomb()),
    ]
    .into_iter()
    .map(|(name, text)| (name, text.len(), median_parse(&text, reps, false)))
    .collect();
    ConfigTimes { wide, bombs }
}
