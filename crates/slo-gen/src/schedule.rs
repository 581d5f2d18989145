//! Pure schedule arithmetic: k6 execution segments, arrival times of arrival-rate
//! executors and the VU steps of `ramping-vus`. No I/O, no clocks.

use std::time::Duration;

use slo_config::scenario::Stage;

/// A k6 execution segment `from:to`, 0 ≤ from < to ≤ 1, kept as exact fractions.
///
/// A value N (VUs, iterations) is split as `ceil(N·to) − ceil(N·from)`; the shares of
/// segments that partition 0:1 sum to N exactly. Arrivals are striped: the global
/// arrival number i (1-based) belongs to the segment whose share of the first i
/// arrivals grows at i, so `0:1/4 … 3/4:1` together run every arrival exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start as (numerator, denominator).
    pub from: (u64, u64),
    /// End as (numerator, denominator).
    pub to: (u64, u64),
}

impl Default for Segment {
    fn default() -> Self {
        Segment { from: (0, 1), to: (1, 1) }
    }
}

fn parse_frac(s: &str) -> Option<(u64, u64)> {
    let s = s.trim();
    if let Some(p) = s.strip_suffix('%') {
        let (n, d) = parse_frac(p)?;
        return Some((n, d.checked_mul(100)?));
    }
    if let Some((n, d)) = s.split_once('/') {
        let n: u64 = n.trim().parse().ok()?;
        let d: u64 = d.trim().parse().ok()?;
        return (d > 0).then_some((n, d));
    }
    if let Some((i, f)) = s.split_once('.') {
        if f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d = 10u64.pow(f.len() as u32);
        let i: u64 = if i.is_empty() { 0 } else { i.parse().ok()? };
        let f: u64 = if f.is_empty() { 0 } else { f.parse().ok()? };
        return Some((i.checked_mul(d)?.checked_add(f)?, d));
    }
    Some((s.parse().ok()?, 1))
}

fn ceil_mul(n: u64, (num, den): (u64, u64)) -> u64 {
    let p = u128::from(n) * u128::from(num);
    p.div_ceil(u128::from(den)) as u64
}

impl Segment {
    /// Parses k6's `--execution-segment` forms: `0:1/4`, `1/4:2/4`, `0.25:0.5`,
    /// `25%:50%`, or a single end `1/4` (= `0:1/4`).
    ///
    /// # Errors
    /// A message quoting the input when it is malformed or not 0 ≤ from < to ≤ 1.
    pub fn parse(s: &str) -> Result<Segment, String> {
        let bad =
            || format!("invalid segment {s:?}: expected from:to with fractions, decimals or percentages, 0 <= from < to <= 1 (e.g. 0:1/4)");
        let (from, to) = match s.split_once(':') {
            Some((a, b)) => (parse_frac(a).ok_or_else(bad)?, parse_frac(b).ok_or_else(bad)?),
            None => ((0, 1), parse_frac(s).ok_or_else(bad)?),
        };
        let lt = |a: (u64, u64), b: (u64, u64)| u128::from(a.0) * u128::from(b.1) < u128::from(b.0) * u128::from(a.1);
        if !lt(from, to) || lt((1, 1), to) {
            return Err(bad());
        }
        Ok(Segment { from, to })
    }

    /// Whether this is the whole 0:1.
    pub fn is_full(&self) -> bool {
        self.from.0 == 0 && self.to.0 == self.to.1
    }

    /// This segment's share of `n`: `ceil(n·to) − ceil(n·from)`.
    pub fn scale(&self, n: u64) -> u64 {
        ceil_mul(n, self.to) - ceil_mul(n, self.from)
    }

    /// This segment's share of a rate (exact proportion `to − from`).
    pub fn scale_rate(&self, r: f64) -> f64 {
        let f = self.from.0 as f64 / self.from.1 as f64;
        let t = self.to.0 as f64 / self.to.1 as f64;
        r * (t - f)
    }

    /// Whether the global arrival with 0-based index `i` belongs to this segment.
    pub fn owns(&self, i: u64) -> bool {
        self.scale(i + 1) > self.scale(i)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}/{}", self.from.0, self.from.1, self.to.0, self.to.1)
    }
}

/// Arrival times of an arrival-rate executor: the i-th arrival (0-based) starts when
/// the integral of the piecewise-linear rate reaches i (k6's ramping-arrival-rate
/// schedule; for a constant rate r per unit, arrival i is at i·unit/r, the first at 0).
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// (stage start offset s, stage length s, rate at start /s, rate at end /s,
    /// cumulative arrivals at stage start)
    stages: Vec<(f64, f64, f64, f64, f64)>,
    cur: usize,
    next: u64,
}

impl Arrivals {
    /// Builds the schedule from a start rate and stages, rates per `time_unit`.
    pub fn new(start_rate: f64, stages: &[Stage], time_unit: Duration) -> Self {
        let unit = time_unit.as_secs_f64();
        let mut out = Vec::with_capacity(stages.len());
        let (mut t, mut r, mut n) = (0.0f64, start_rate / unit, 0.0f64);
        for s in stages {
            let d = s.duration.as_secs_f64();
            let r1 = s.target / unit;
            out.push((t, d, r, r1, n));
            n += (r + r1) / 2.0 * d;
            t += d;
            r = r1;
        }
        Arrivals { stages: out, cur: 0, next: 0 }
    }

    /// Total arrivals the schedule holds.
    pub fn total(&self) -> u64 {
        let mut a = self.clone();
        let mut c = 0;
        while a.next_offset().is_some() {
            c += 1;
        }
        c
    }

    /// The offset from the executor start of the next arrival and its global index, or
    /// `None` after the last.
    pub fn next_arrival(&mut self) -> Option<(u64, Duration)> {
        let i = self.next;
        self.next_offset().map(|d| (i, d))
    }

    fn next_offset(&mut self) -> Option<Duration> {
        let target = self.next as f64;
        while let Some(&(t0, d, r0, r1, n0)) = self.stages.get(self.cur) {
            let n_end = n0 + (r0 + r1) / 2.0 * d;
            // 1e-9 tolerance: rate·duration products such as 200·5 must give exactly 1000.
            if d > 0.0 && target < n_end - 1e-9 {
                let x = target - n0;
                let a = (r1 - r0) / (2.0 * d);
                let dt = if a.abs() < 1e-15 {
                    if r0 <= 0.0 {
                        self.cur += 1;
                        continue;
                    }
                    x / r0
                } else {
                    let disc = (r0 * r0 + 4.0 * a * x).max(0.0);
                    let den = r0 + disc.sqrt();
                    if den <= 0.0 {
                        0.0
                    } else {
                        2.0 * x / den
                    }
                };
                self.next += 1;
                return Some(Duration::from_secs_f64((t0 + dt.clamp(0.0, d)).max(0.0)));
            }
            self.cur += 1;
        }
        None
    }
}

/// The VU steps of `ramping-vus`: `(offset, vus)` pairs, sorted by offset, each the
/// VU count from that offset on. A ramp from a to b over T changes the count by one at
/// `T·k/|b−a|`, k = 1..|b−a| (linear interpolation; the count reaches b at the end of
/// the stage, so a ramp down to 0 keeps one VU until its end).
pub fn ramping_vu_steps(start_vus: u64, stages: &[Stage], scale: impl Fn(u64) -> u64) -> Vec<(Duration, u64)> {
    let mut steps = vec![(Duration::ZERO, scale(start_vus))];
    let mut t = Duration::ZERO;
    let mut cur = start_vus;
    for s in stages {
        let target = s.target.round().max(0.0) as u64;
        let diff = target.abs_diff(cur);
        if s.duration.is_zero() || diff == 0 {
            if diff != 0 {
                steps.push((t, scale(target)));
            }
        } else {
            for k in 1..=diff {
                let v = if target > cur { cur + k } else { cur - k };
                let at = t + s.duration.mul_f64(k as f64 / diff as f64);
                steps.push((at, scale(v)));
            }
        }
        cur = target;
        t += s.duration;
    }
    steps.sort_by_key(|(d, _)| *d);
    steps
}

/// The VU count a step list gives at `offset`.
pub fn vus_at(steps: &[(Duration, u64)], offset: Duration) -> u64 {
    match steps.partition_point(|(d, _)| *d <= offset) {
        0 => 0,
        i => steps[i - 1].1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(secs: f64, target: f64) -> Stage {
        Stage { duration: Duration::from_secs_f64(secs), target }
    }

    #[test]
    fn segments_parse_and_partition() {
        let s = Segment::parse("0:1/4").unwrap();
        assert_eq!(s, Segment { from: (0, 1), to: (1, 4) });
        assert_eq!(Segment::parse("25%:50%").unwrap().scale(100), 25);
        assert_eq!(Segment::parse("0.5:1").unwrap().scale(10), 5);
        assert!(Segment::parse("1/2:1/4").is_err());
        assert!(Segment::parse("0:5/4").is_err());
        assert!(Segment::parse("x").is_err());
        let parts: Vec<Segment> = ["0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"].iter().map(|p| Segment::parse(p).unwrap()).collect();
        for n in [0u64, 1, 2, 3, 5, 7, 10, 1001] {
            assert_eq!(parts.iter().map(|p| p.scale(n)).sum::<u64>(), n, "n={n}");
        }
        // 1 VU goes to the first quarter (ceil rounding).
        assert_eq!(parts[0].scale(1), 1);
        // every arrival owned exactly once
        for i in 0..1000u64 {
            assert_eq!(parts.iter().filter(|p| p.owns(i)).count(), 1);
        }
        assert_eq!((0..1000u64).filter(|i| parts[2].owns(*i)).count(), 250);
    }

    #[test]
    fn constant_rate_arrivals() {
        // 200/s for 5 s: arrivals at 0, 5 ms, ..., 4995 ms → 1000 (hand count: 5·200).
        let mut a = Arrivals::new(200.0, &[st(5.0, 200.0)], Duration::from_secs(1));
        assert_eq!(a.total(), 1000);
        assert_eq!(a.next_arrival(), Some((0, Duration::ZERO)));
        let (i, d) = a.next_arrival().unwrap();
        assert_eq!(i, 1);
        assert!((d.as_secs_f64() - 0.005).abs() < 1e-9);
        // timeUnit 1m: 60 per minute over 10 s → 10 arrivals
        assert_eq!(Arrivals::new(60.0, &[st(10.0, 60.0)], Duration::from_secs(60)).total(), 10);
    }

    #[test]
    fn ramping_rate_arrivals() {
        // 0 → 10/s over 10 s: integral 50 → 50 arrivals; arrival 8 at t where 0.5·t² = 8 → t=4.
        let mut a = Arrivals::new(0.0, &[st(10.0, 10.0)], Duration::from_secs(1));
        assert_eq!(a.total(), 50);
        let mut t8 = None;
        while let Some((i, d)) = a.next_arrival() {
            if i == 8 {
                t8 = Some(d);
            }
        }
        assert!((t8.unwrap().as_secs_f64() - 4.0).abs() < 1e-9);
        // jump stage then hold: 5/s 2 s, jump to 20/s, 1 s → 10 + 20 = 30
        assert_eq!(Arrivals::new(5.0, &[st(2.0, 5.0), st(0.0, 20.0), st(1.0, 20.0)], Duration::from_secs(1)).total(), 30);
        // ramp down 10 → 0 over 10 s: 50
        assert_eq!(Arrivals::new(10.0, &[st(10.0, 0.0)], Duration::from_secs(1)).total(), 50);
    }

    #[test]
    fn vu_steps() {
        let steps = ramping_vu_steps(0, &[st(4.0, 4.0), st(2.0, 4.0), st(4.0, 0.0)], |n| n);
        assert_eq!(vus_at(&steps, Duration::from_millis(500)), 0);
        assert_eq!(vus_at(&steps, Duration::from_millis(1000)), 1);
        assert_eq!(vus_at(&steps, Duration::from_millis(3999)), 3);
        assert_eq!(vus_at(&steps, Duration::from_millis(5000)), 4);
        assert_eq!(vus_at(&steps, Duration::from_millis(6000)), 4);
        assert_eq!(vus_at(&steps, Duration::from_millis(6600)), 4);
        assert_eq!(vus_at(&steps, Duration::from_millis(7000)), 3);
        assert_eq!(vus_at(&steps, Duration::from_millis(9999)), 1);
        assert_eq!(vus_at(&steps, Duration::from_millis(10000)), 0);
    }
}
