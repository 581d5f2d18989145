//! HTML reports of `slo check` and `slo compare`, built from synthetic but realistic
//! runs (a seeded generator, so every number is reproducible): structure snapshots,
//! escaping of hostile tag values and ids, and a headless-Chromium screenshot when
//! `chromium` is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slo_analyze::compare::{compare, CompareOptions, ComparisonInput, EndpointInput, RunSide, Sample};
use slo_analyze::{percentile_sorted, Analysis, CheckReport, Options, Plan, RunInfo, SloKind, SloSpec, TimeRange};
use slo_model::{RunStatus, Tags};
use slo_report::charts::{spectrum_points, CheckCharts, CompareCharts, LatencyPercentiles, RunCharts, Traffic};
use slo_report::html::{render_check_html, render_compare_html, ComparisonView};

const SCRIPT_TAG: &str = "<script>alert(1)</script>";
const IMG_ATTR: &str = "\"><img src=x onerror=alert(1)>";
/// 2024-01-01T00:00:00Z in ns since the epoch.
const T0: i64 = 1_704_067_200_000_000_000;
const RUN_S: i64 = 600;

/// xorshift64*: a tiny seeded generator for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.next().max(1e-12);
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Request {
    t_ns: i64,
    endpoint: &'static str,
    ms: f64,
    failed: bool,
}

const ENDPOINTS: [(&str, f64); 3] = [("login", 80.0), ("search", 140.0), (SCRIPT_TAG, 60.0)];

/// One run: a request every 40 ms for 10 minutes over three endpoints, log-normal
/// latencies; the candidate's `search` is 25 % slower and it has an error burst in
/// minute 7.
fn run(seed: u64, candidate: bool) -> Vec<Request> {
    let mut rng = Rng(seed);
    let n = RUN_S * 25;
    (0..n)
        .map(|i| {
            let t_ns = T0 + i * 40_000_000;
            let (endpoint, base) = ENDPOINTS[(i % 3) as usize];
            let slow = if candidate && endpoint == "search" { 1.25 } else { 1.0 };
            let ms = base * slow * (0.35 * rng.normal()).exp();
            let minute = (t_ns - T0) / 60_000_000_000;
            let p_fail = if candidate && minute == 7 { 0.04 } else { 0.002 };
            Request { t_ns, endpoint, ms, failed: rng.next() < p_fail }
        })
        .collect()
}

fn run_info(id: &str, reqs: &[Request]) -> RunInfo {
    RunInfo {
        id: id.into(),
        origin: "slo run".into(),
        scenario: Some(format!("checkout.yaml {IMG_ATTR}")),
        status: RunStatus::Complete,
        start_ns: reqs.first().map(|r| r.t_ns),
        end_ns: reqs.last().map(|r| r.t_ns),
        points: reqs.len() as u64 * 3,
        slo_version: "0.1.0".into(),
    }
}

fn check_report(id: &str, reqs: &[Request]) -> CheckReport {
    let k6 = format!(
        r#"{{"thresholds": {{"http_req_duration": ["p(95)<400"], "http_req_duration{{name:{SCRIPT_TAG}}}": ["p(95)<100"], "http_req_failed": ["rate<0.01"]}}}}"#
    );
    let opts = slo_config::parse_k6_options(&k6, "options.json").expect("k6 options parse");
    let min = Duration::from_secs(60);
    let mut latency = SloSpec::new("search p95 ≤ 200 ms", SloKind::Latency { percentile: 95.0 }, 200.0, min);
    latency.filter = vec![("name".into(), "search".into())];
    let slos = vec![
        SloSpec::new(format!("availability {IMG_ATTR}"), SloKind::Availability, 0.995, min),
        latency,
        SloSpec::new("throughput", SloKind::Throughput, 20.0, min),
    ];
    let plan = Plan {
        thresholds: &opts.thresholds.0,
        slos: &slos,
        metrics: &[],
        run: run_info(id, reqs),
        range: TimeRange { start_ns: T0, end_ns: T0 + RUN_S * 1_000_000_000 },
        rate_duration_s: Some(RUN_S as f64),
        rate_duration_source: Some("run duration".into()),
        options: Options::default(),
    };
    let mut a = Analysis::new(plan).expect("plan");
    for r in reqs {
        let tags = Tags::from_pairs([("name", r.endpoint)]);
        a.push("http_req_duration", r.t_ns, r.ms, &tags);
        a.push("http_req_failed", r.t_ns, if r.failed { 1.0 } else { 0.0 }, &tags);
        a.push("http_reqs", r.t_ns, 1.0, &tags);
    }
    for s in 0..=RUN_S {
        a.push("vus", T0 + s * 1_000_000_000, (s.min(60) as f64 / 60.0 * 20.0).round(), &Tags::default());
    }
    a.finish()
}

/// Per-window series for the charts, from the same requests (30 s windows).
fn run_charts(reqs: &[Request]) -> RunCharts {
    let w_ns = 30_000_000_000i64;
    let mut lat = LatencyPercentiles::default();
    let mut traffic = Traffic::default();
    for w in 0..(RUN_S * 1_000_000_000 / w_ns) {
        let (a, b) = (T0 + w * w_ns, T0 + (w + 1) * w_ns);
        let inw: Vec<&Request> = reqs.iter().filter(|r| r.t_ns >= a && r.t_ns < b).collect();
        let mut ms: Vec<f64> = inw.iter().map(|r| r.ms).collect();
        ms.sort_by(f64::total_cmp);
        let t = (w * 30) as f64;
        for (series, p) in [(&mut lat.p50, 0.5), (&mut lat.p95, 0.95), (&mut lat.p99, 0.99)] {
            if let Some(v) = percentile_sorted(&ms, p) {
                series.push((t, v));
            }
        }
        traffic.throughput.push((t, inw.len() as f64 / 30.0));
        traffic.error_rate.push((t, inw.iter().filter(|r| r.failed).count() as f64 / inw.len().max(1) as f64));
    }
    let mut all: Vec<f64> = reqs.iter().map(|r| r.ms).collect();
    all.sort_by(f64::total_cmp);
    RunCharts {
        latency: Some(lat),
        spectrum: Some(spectrum_points(&all)),
        traffic: Some(traffic),
        vus: Some((0..=RUN_S).map(|s| (s as f64, (s.min(60) as f64 / 60.0 * 20.0).round())).collect()),
    }
}

fn sample<'a>(reqs: &[Request], ms: &'a [f64], endpoint: Option<&str>) -> Sample<'a> {
    let sel: Vec<&Request> = reqs.iter().filter(|r| endpoint.is_none_or(|e| r.endpoint == e)).collect();
    Sample { latency_ms: ms, requests: sel.len() as u64, failed_requests: sel.iter().filter(|r| r.failed).count() as u64, checks: None }
}

fn latencies(reqs: &[Request], endpoint: Option<&str>) -> Vec<f64> {
    reqs.iter().filter(|r| endpoint.is_none_or(|e| r.endpoint == e)).map(|r| r.ms).collect()
}

fn comparison_view(base: &[Request], cand: &[Request]) -> ComparisonView {
    let names: Vec<Option<&str>> = std::iter::once(None).chain(ENDPOINTS.iter().map(|e| Some(e.0))).collect();
    let lat: Vec<(Vec<f64>, Vec<f64>)> = names.iter().map(|n| (latencies(base, *n), latencies(cand, *n))).collect();
    let input = |i: usize, n: Option<&str>| EndpointInput {
        name: n.unwrap_or("all requests").to_string(),
        baseline: sample(base, &lat[i].0, n),
        candidate: sample(cand, &lat[i].1, n),
    };
    let input = ComparisonInput {
        baseline: RunSide { id: "base-0001".into(), duration_s: Some(RUN_S as f64) },
        candidate: RunSide { id: format!("cand-0002{IMG_ATTR}"), duration_s: Some(RUN_S as f64) },
        overall: Some(input(0, None)),
        endpoints: names.iter().enumerate().skip(1).map(|(i, n)| input(i, *n)).collect(),
    };
    let c = compare(&input, &CompareOptions::default()).expect("comparison");
    let mut v = ComparisonView::new(c);
    v.baseline_run = Some(run_info("base-0001", base));
    v.candidate_run = Some(run_info(&format!("cand-0002{IMG_ATTR}"), cand));
    v.comparability = vec![format!("generator versions differ: 0.1.0 vs 0.1.1 {SCRIPT_TAG}")];
    v
}

fn check_fixture() -> (CheckReport, CheckCharts) {
    let reqs = run(7, true);
    (check_report(&format!("cand-0002{IMG_ATTR}"), &reqs), run_charts(&reqs))
}

fn compare_fixture() -> (ComparisonView, CompareCharts) {
    let base = run(11, false);
    let cand = run(7, true);
    let view = comparison_view(&base, &cand);
    let charts = CompareCharts { baseline: run_charts(&base), candidate: run_charts(&cand), ..Default::default() };
    (view, charts)
}

/// The document's structure for a snapshot: charts reduced to their titles, CSS
/// dropped, RFC 3339 timestamps and the slo version redacted.
fn structure(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("</svg>").map(|j| i + j + 6).expect("closed svg");
        let svg = &rest[i..end];
        // The first <text> is the chart's title.
        let title = svg.find("<text").and_then(|t| svg[t..].find(">\n").map(|k| t + k + 2)).map(|s| svg[s..].lines().next().unwrap_or(""));
        out.push_str(&format!("<svg title=\"{}\"/>", title.unwrap_or("?")));
        rest = &rest[end..];
    }
    out.push_str(rest);
    let (a, b) = (out.find("<style>").unwrap(), out.find("</style>").unwrap());
    out.replace_range(a..b + 8, "<style>…</style>");
    let version = env!("CARGO_PKG_VERSION");
    out = out.replace(&format!("slo {version}"), "slo [version]");
    redact_ms(&redact_times(&out))
}

/// Replaces every number directly followed by ` ms` (a timing) with `[ms]`, so the
/// snapshot holds the structure and not the synthetic latencies.
fn redact_ms(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" ms") {
        let head = &rest[..i];
        let num_start =
            head.char_indices().rev().take_while(|(_, c)| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | '−')).last().map(|(j, _)| j);
        match num_start {
            Some(j) if head[j..].chars().any(|c| c.is_ascii_digit()) => {
                out.push_str(&head[..j]);
                out.push_str("[ms]");
            }
            _ => out.push_str(&head[..i]),
        }
        out.push_str(" ms");
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out.replace("[ms] ms", "[ms]")
}

/// Replaces `YYYY-MM-DDTHH:MM:SS[.fff]Z` and `+00:00` forms with `[time]`.
fn redact_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let digits = |r: std::ops::Range<usize>| r.end <= b.len() && b[r].iter().all(u8::is_ascii_digit);
    while i < b.len() {
        if digits(i..i + 4) && b.get(i + 4) == Some(&b'-') && digits(i + 5..i + 7) && b.get(i + 10) == Some(&b'T') {
            let mut j = i + 11;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b':' || b[j] == b'.') {
                j += 1;
            }
            if b.get(j) == Some(&b'Z') {
                j += 1;
            } else if s[j..].starts_with("+00:00") {
                j += 6;
            }
            out.push_str("[time]");
            i = j;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn html_check_report_structure() {
    let (report, charts) = check_fixture();
    let html = render_check_html(&report, &charts);
    insta::assert_snapshot!("check_html", structure(&html));
}

#[test]
fn html_compare_report_structure() {
    let (view, charts) = compare_fixture();
    let html = render_compare_html(&view, &charts);
    insta::assert_snapshot!("compare_html", structure(&html));
}

/// What is outside the inline `<style>`.
fn without_style(html: &str) -> String {
    let (a, b) = (html.find("<style>").unwrap(), html.find("</style>").unwrap());
    format!("{}{}", &html[..a], &html[b..])
}

fn assert_inert(html: &str) {
    let body = without_style(html);
    assert!(!body.contains("<script"), "a <script> element survived");
    assert!(!body.contains("<img"), "an <img> element survived");
    assert!(!body.contains("onerror=alert(1)>"), "the attribute break-out survived");
    // Self-contained: nothing fetched.
    for needle in ["http://", "https://", "src=\"", "<link", "@import", "url("] {
        let allowed =
            needle == "http://" && body.matches("http://").count() == body.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
        assert!(allowed || !body.contains(needle), "external reference {needle:?}");
    }
}

#[test]
fn html_escapes_hostile_tag_values_and_ids() {
    let (report, charts) = check_fixture();
    let html = render_check_html(&report, &charts);
    assert_inert(&html);
    // The tag value appears as text: in the thresholds table (the metric key) and in
    // the trends table (the sub-metric).
    assert!(html.contains("http_req_duration<wbr>{name:<wbr>&lt;script&gt;alert(1)&lt;/script&gt;}"));
    assert!(html.contains("availability &quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("cand-0002&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));

    let (view, charts) = compare_fixture();
    let html = render_compare_html(&view, &charts);
    assert_inert(&html);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("cand-0002&quot;&gt;&lt;img"));
}

#[test]
fn html_check_report_says_what_the_analysis_found() {
    let (report, charts) = check_fixture();
    let html = render_check_html(&report, &charts);
    // The verdict leads: the banner comes before every table and chart.
    let banner = html.find("<header class=\"verdict v-").unwrap();
    assert!(banner < html.find("<table").unwrap() && banner < html.find("<svg").unwrap());
    assert!(html.find("<h2>Thresholds</h2>").unwrap() < html.find("<h2>Charts</h2>").unwrap());
    assert!(html.find("<h2>Charts</h2>").unwrap() < html.find("<h2>Run</h2>").unwrap());
    // The hostile endpoint's latencies are log-normal around 60 ms, so its p(95) (about
    // 60·e^(1.645·0.35) ≈ 107 ms) breaks `p(95)<100`; minute 7 of the run has a 4 %
    // error burst, which breaks the 99.5 % availability SLO in that window.
    assert!(html.contains("<header class=\"verdict v-fail\"><div class=\"badge\">FAIL</div>"));
    let sw = report.slos.iter().find(|s| s.name.starts_with("availability")).unwrap();
    assert_eq!(sw.windows.windows[7].verdict, slo_analyze::Verdict::Fail);
    // Charts: 4 run charts, 3 SLO window charts, 1 burn-down.
    assert_eq!(html.matches("<svg").count(), 8);
    for title in
        ["Latency percentiles per window", "Latency by percentile", "Throughput and error rate", "Virtual users", "Error budget remaining"]
    {
        assert!(html.contains(title), "missing chart {title}");
    }
}

#[test]
fn html_compare_report_finds_the_slower_endpoint() {
    let (view, charts) = compare_fixture();
    let html = render_compare_html(&view, &charts);
    // search is 25 % slower in the candidate (by construction): the comparison calls it
    // regressed, and so the whole comparison.
    let search = view.comparison.endpoints.iter().find(|e| e.name == "search").unwrap();
    assert_eq!(search.verdict, slo_analyze::compare::ChangeVerdict::Regressed);
    assert!(html.contains("<div class=\"badge\">REGRESSED</div>"));
    assert!(html.contains("<strong>search</strong><br><span class=\"st s-regressed\">REGRESSED</span>"));
    assert!(html.contains("Change in p(95) by endpoint"));
    assert!(html.contains("The runs differ"));
}

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default() {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Screenshots `html_path` with headless Chromium into `png`; bounded to 90 s.
fn screenshot(chromium: &Path, html_path: &Path, png: &Path, height: u32) {
    let profile = std::env::temp_dir().join(format!("slo-chromium-{}", std::process::id()));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("file://{}", html_path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(profile);
}

#[test]
fn html_reports_render_in_chromium() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let (report, charts) = check_fixture();
    let check = dir.join("check.html");
    std::fs::write(&check, render_check_html(&report, &charts)).unwrap();
    let (view, charts) = compare_fixture();
    let cmp = dir.join("compare.html");
    std::fs::write(&cmp, render_compare_html(&view, &charts)).unwrap();
    // The README picture: the comparison with the hostile strings swapped for plain
    // names (text only; chart layout was computed for the longer names).
    let example = dir.join("compare-example.html");
    let clean = std::fs::read_to_string(&cmp)
        .unwrap()
        .replace(" 0.1.1 &lt;script&gt;alert(1)&lt;/script&gt;", " 0.1.1")
        .replace("&lt;script&gt;alert(1)&lt;/script&gt;", "checkout")
        .replace("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", "");
    std::fs::write(&example, clean).unwrap();
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (Debian: apt-get install -y chromium); reports written to {}", dir.display());
        return;
    };
    for (html, png) in [(&check, dir.join("check.png")), (&cmp, dir.join("compare.png"))] {
        let _ = std::fs::remove_file(&png);
        screenshot(&chromium, html, &png, 2000);
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: no screenshot: {e}", png.display()));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", png.display());
        // A blank 1280x2000 page compresses to a few KB; text, tables and charts do not.
        assert!(bytes.len() > 60_000, "{}: {} bytes, the page looks empty", png.display(), bytes.len());
        eprintln!("screenshot: {} ({} bytes)", png.display(), bytes.len());
    }
    let png = dir.join("compare-example.png");
    screenshot(&chromium, &example, &png, 1560);
    assert!(std::fs::metadata(&png).map(|m| m.len() > 60_000).unwrap_or(false), "{}: no screenshot", png.display());
    eprintln!("screenshot: {} (tests/fixtures/report-example.png is a copy)", png.display());
}
