//! Figures of one run, and the Markdown table, JSON file and PNG chart of a whole benchmark.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use crate::generator::GenResult;

/// What one (scenario, target) run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunResult {
    /// Scenario name (`a`, `a-quick`, …).
    pub scenario: String,
    /// Scenario letter.
    pub letter: char,
    /// Scenario description.
    pub title: String,
    /// `wren`, `bird`, `gobgp`.
    pub target: String,
    /// Testers (clients).
    pub peers: u32,
    /// Prefixes per tester.
    pub per_peer: u32,
    /// `ok`, `incorrect`, `timeout` or `error`.
    pub status: String,
    /// The generator's correctness verdict (and no harness error).
    pub correct: bool,
    /// First tester UPDATE written → monitor holds every prefix (scenario e: first withdrawal
    /// written → monitor holds every prefix again).
    pub convergence_s: Option<f64>,
    /// Target process start → the same end point.
    pub total_s: Option<f64>,
    /// The generator's own send time: first → last tester UPDATE written (scenario e: the
    /// withdrawal and re-announcement writes added up).
    pub tester_send_s: Option<f64>,
    /// Target process start → every session established.
    pub sessions_up_s: Option<f64>,
    /// Target CPU seconds (user + system, all threads) from its start to the end point
    /// (scenario e: during the churn phase only).
    pub cpu_s: Option<f64>,
    /// Peak RSS of the target (`VmHWM`), MiB.
    pub peak_rss_mib: Option<f64>,
    /// Highest `VmRSS` sampled every 100 ms, MiB.
    pub sampled_rss_mib: Option<f64>,
    /// Scenario e: convergence of the initial load, s.
    pub load_convergence_s: Option<f64>,
    /// Scenario e: first withdrawal written → the monitor lost every withdrawn prefix, s.
    pub withdraw_s: Option<f64>,
    /// Convergence of every repetition (sorted) when the run was repeated (`--runs`); the other
    /// figures are those of the median one.
    pub convergence_runs: Vec<f64>,
    /// Why it is not `ok`, or other remarks.
    pub note: String,
    /// Everything the generator reported.
    pub generator: Option<GenResult>,
}

fn secs(from: Option<u64>, to: Option<u64>) -> Option<f64> {
    match (from, to) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1e9),
        _ => None,
    }
}

impl RunResult {
    /// Fills the timing figures from the generator's result; `target_start_ns` is when the
    /// target was spawned.
    pub fn apply(&mut self, g: &GenResult, target_start_ns: u64) {
        self.sessions_up_s = secs(Some(target_start_ns), g.sessions_up_ns);
        match &g.churn {
            None => {
                self.convergence_s = secs(g.first_send_ns, g.loaded_ns);
                self.total_s = secs(Some(target_start_ns), g.loaded_ns);
                self.tester_send_s = secs(g.first_send_ns, g.last_send_ns);
            }
            Some(c) => {
                self.load_convergence_s = secs(g.first_send_ns, g.loaded_ns);
                self.convergence_s = secs(Some(c.withdraw_first_send_ns), c.settled_ns);
                self.withdraw_s = secs(Some(c.withdraw_first_send_ns), c.withdrawn_seen_ns);
                self.total_s = secs(Some(target_start_ns), c.settled_ns);
                self.tester_send_s = match (
                    secs(Some(c.withdraw_first_send_ns), c.withdraw_last_send_ns),
                    secs(c.reannounce_first_send_ns, c.reannounce_last_send_ns),
                ) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
            }
        }
        self.correct = g.correct;
        let mut why = Vec::new();
        if let Some(t) = &g.timed_out {
            why.push(format!("timed out waiting for {t}"));
        }
        if g.held_min != g.expected {
            why.push(format!(
                "a monitor held {} of {} prefixes",
                g.held_min, g.expected
            ));
        }
        if g.wrong > 0 {
            why.push(format!(
                "{} announcements with wrong attributes, first: {}",
                g.wrong,
                g.first_wrong.as_deref().unwrap_or("?")
            ));
        }
        if g.unexpected > 0 {
            why.push(format!("{} unexpected prefixes", g.unexpected));
        }
        if let Some(e) = g.errors.first() {
            why.push(format!("{} session errors, first: {e}", g.errors.len()));
        }
        self.status = if g.correct {
            "ok"
        } else if g.timed_out.is_some() {
            "timeout"
        } else {
            "incorrect"
        }
        .to_owned();
        if !why.is_empty() {
            self.note = why.join("; ");
        }
    }
}

fn f2(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn conv(r: &RunResult) -> String {
    match (r.convergence_runs.first(), r.convergence_runs.last()) {
        (Some(lo), Some(hi)) if r.convergence_runs.len() > 1 => {
            format!("{} ({lo:.2}–{hi:.2})", f2(r.convergence_s))
        }
        _ => f2(r.convergence_s),
    }
}

fn f0(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".to_owned(),
    }
}

fn label(target: &str) -> &str {
    match target {
        "wren" => "wren",
        "bird" => "BIRD",
        "gobgp" => "GoBGP",
        other => other,
    }
}

/// The results table and the ratio table, in Markdown.
pub fn markdown(results: &[RunResult]) -> String {
    let mut s = String::new();
    s.push_str(
        "| scenario | target | peers × prefixes | convergence (s), median (min–max) | total (s) | tester send (s) \
         | CPU (s) | peak RSS (MiB) | correct |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in results {
        let correct = match (&r.status[..], &r.generator) {
            ("ok", _) => "yes".to_owned(),
            ("timeout", Some(g)) => format!(
                "**no**: timeout, {} monitor held {} of {}",
                if g.monitors > 1 { "a" } else { "the" },
                g.held_min,
                g.expected
            ),
            (status, _) => {
                let short: String = r.note.chars().take(160).collect();
                format!("**no** ({status}: {short})")
            }
        };
        let _ = writeln!(
            s,
            "| {} {} | {} | {} × {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.title,
            label(&r.target),
            r.peers,
            r.per_peer,
            conv(r),
            f2(r.total_s),
            f2(r.tester_send_s),
            f2(r.cpu_s),
            f0(r.peak_rss_mib),
            correct
        );
    }
    let mut scenarios: Vec<&str> = results.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.dedup();
    let find = |sc: &str, t: &str| {
        results
            .iter()
            .find(|r| r.scenario == sc && r.target == t && r.status == "ok")
    };
    let rows: Vec<String> = scenarios
        .iter()
        .filter_map(|sc| {
            let w = find(sc, "wren")?;
            let b = find(sc, "bird");
            let g = find(sc, "gobgp");
            let get = |r: Option<&RunResult>, f: fn(&RunResult) -> Option<f64>| r.and_then(f);
            Some(format!(
                "| {sc} | {} | {} | {} | {} | {} | {} |",
                ratio(w.convergence_s, get(b, |r| r.convergence_s)),
                ratio(w.convergence_s, get(g, |r| r.convergence_s)),
                ratio(w.cpu_s, get(b, |r| r.cpu_s)),
                ratio(w.cpu_s, get(g, |r| r.cpu_s)),
                ratio(w.peak_rss_mib, get(b, |r| r.peak_rss_mib)),
                ratio(w.peak_rss_mib, get(g, |r| r.peak_rss_mib)),
            ))
        })
        .collect();
    if !rows.is_empty() {
        s.push_str(
            "\n| scenario | convergence wren/BIRD | convergence wren/GoBGP | CPU wren/BIRD \
             | CPU wren/GoBGP | peak RSS wren/BIRD | peak RSS wren/GoBGP |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in rows {
            s.push_str(&r);
            s.push('\n');
        }
    }
    s
}

/// Reads one figure of a run.
type Figure = fn(&RunResult) -> Option<f64>;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn color(target: &str) -> RGBColor {
    match target {
        "wren" => RGBColor(0xd9, 0x5f, 0x02),
        "bird" => RGBColor(0x1b, 0x6a, 0xb0),
        _ => RGBColor(0x2c, 0xa0, 0x2c),
    }
}

/// Grouped bars: one column per scenario, rows convergence / CPU / peak RSS, one bar per target.
pub fn chart(results: &[RunResult], path: &Path, caption: &str) -> Result<(), String> {
    let font = std::fs::read(FONT).map_err(|e| format!("cannot read the font {FONT}: {e}"))?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| format!("{FONT} is not a usable font"))?;
    let mut scenarios: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.scenario.as_str(), r.title.as_str()))
        .collect();
    scenarios.dedup();
    let mut targets: Vec<&str> = Vec::new();
    for r in results {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
    }
    let metrics: [(&str, Figure); 3] = [
        ("convergence (s)", |r| r.convergence_s),
        ("target CPU (s)", |r| r.cpu_s),
        ("peak RSS (MiB)", |r| r.peak_rss_mib),
    ];
    let cols = scenarios.len().max(1);
    let width = (300 * cols).max(600) as u32;
    let root = BitMapBackend::new(path, (width, 3 * 250 + 40)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("chart: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(caption, ("sans-serif", 20))
        .map_err(|e| err(&e))?;
    let cells = root.split_evenly((3, cols));
    let n = targets.len() as i32;
    for (row, (metric, get)) in metrics.iter().enumerate() {
        for (col, (scenario, title)) in scenarios.iter().enumerate() {
            let Some(area) = cells.get(row * cols + col) else {
                continue;
            };
            let values: Vec<(i32, &str, Option<f64>, bool)> = targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let r = results
                        .iter()
                        .find(|r| r.scenario == *scenario && r.target == *t);
                    (
                        i as i32,
                        *t,
                        r.and_then(get),
                        r.is_some_and(|r| r.status == "ok"),
                    )
                })
                .collect();
            let max = values
                .iter()
                .filter_map(|v| v.2)
                .fold(0.0f64, f64::max)
                .max(1e-3);
            let caption = if row == 0 {
                format!("{scenario}: {title}")
            } else {
                String::new()
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 13))
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(58)
                .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..max * 1.2)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(WHITE)
                .y_labels(6)
                .y_label_formatter(&|v| {
                    if max >= 10.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    }
                })
                .y_desc(*metric)
                .y_label_style(("sans-serif", 11))
                .x_label_style(("sans-serif", 12))
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => targets
                        .get(*i as usize)
                        .map_or(String::new(), |t| label(t).to_owned()),
                    SegmentValue::Last => String::new(),
                })
                .draw()
                .map_err(|e| err(&e))?;
            let colors: Vec<RGBColor> = targets.iter().map(|t| color(t)).collect();
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .margin(12)
                        .style_func(|x, _| {
                            let i = match x {
                                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => *i,
                                SegmentValue::Last => 0,
                            };
                            colors.get(i as usize).copied().unwrap_or(BLACK).filled()
                        })
                        .data(values.iter().filter_map(|(i, _, v, _)| Some((*i, (*v)?)))),
                )
                .map_err(|e| err(&e))?;
            chart
                .draw_series(values.iter().map(|(i, _, v, ok)| {
                    let num = |v: f64| {
                        if v >= 100.0 {
                            format!("{v:.0}")
                        } else {
                            format!("{v:.2}")
                        }
                    };
                    let text = match (v, ok) {
                        (Some(v), true) => num(*v),
                        (Some(v), false) => format!("{} (failed)", num(*v)),
                        (None, _) => "timeout / failed".to_owned(),
                    };
                    let y = v.unwrap_or(0.0);
                    Text::new(
                        text,
                        (SegmentValue::CenterOf(*i), y + max * 0.02),
                        TextStyle::from(("sans-serif", 12).into_font())
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                }))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
