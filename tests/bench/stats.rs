//! Medians, percentiles, formatting, and the report the bench prints and
//! writes (`target/tmp/bench-report.md`).

use std::fmt::Write as _;
use std::time::Duration;

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of an ascending slice, `q` in (0, 1].
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `1.234 s`, `12.3 ms`, `45 µs`: three significant digits or so.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        return "n/a".into();
    }
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

pub fn fmt_us(ns: u64) -> String {
    format!("{:.0} µs", ns as f64 / 1e3)
}

pub fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.3}")
    } else {
        "n/a".into()
    }
}

/// The values of one measurement, for the detail tables: `a / b / c`.
pub fn fmt_all(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| fmt_secs(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Markdown table with padded columns (readable as plain text too).
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::from("|");
            for (i, w) in width.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = w - cell.chars().count();
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            }
            out.push('\n');
            out
        };
        let mut out = line(&self.header);
        out.push('|');
        for w in &width {
            let _ = write!(out, "{}|", "-".repeat(w + 2));
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// One line of the final table.
struct Verdict {
    metric: String,
    value: String,
    target: String,
    ok: Option<bool>,
}

/// What the run found: detail sections (printed as they finish) and the
/// final metric | value | target | ok? table.
#[derive(Default)]
pub struct Report {
    verdicts: Vec<Verdict>,
    sections: String,
}

impl Report {
    /// Prints a detail section now and keeps it for the report file.
    pub fn section(&mut self, title: &str, body: &str) {
        let text = format!("\n### {title}\n\n{body}");
        println!("{text}");
        self.sections.push_str(&text);
    }

    /// A row of the final table; `ok: None` for numbers without a target.
    pub fn verdict(&mut self, metric: &str, value: String, target: &str, ok: Option<bool>) {
        self.verdicts.push(Verdict {
            metric: metric.into(),
            value,
            target: target.into(),
            ok,
        });
    }

    pub fn final_table(&self) -> String {
        let mut t = Table::new(&["metric", "value", "target", "ok?"]);
        for v in &self.verdicts {
            let ok = match v.ok {
                Some(true) => "yes",
                Some(false) => "**NO**",
                None => "—",
            };
            t.row(vec![
                v.metric.clone(),
                v.value.clone(),
                v.target.clone(),
                ok.into(),
            ]);
        }
        t.render()
    }

    pub fn sections(&self) -> &str {
        &self.sections
    }
}
