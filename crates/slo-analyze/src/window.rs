//! Tumbling windows over an evaluated range (DESIGN.md "Windows"): the range
//! `[start, end]` is cut into windows of one length starting at the range start; the
//! last window is clipped at the range end; a range shorter than the window is one
//! clipped window. A trailing remainder shorter than half a window is not judged on its
//! own (a run of 60.3 s against 1-minute windows would otherwise be judged on 0.3 s of
//! traffic): the last full window absorbs it and is that much longer.

use serde::Serialize;

/// A grid of tumbling windows over `[start_ns, end_ns]` (ns since the epoch; both edges
/// inclusive, so a point exactly at `end_ns` falls in the last window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowGrid {
    start_ns: i64,
    end_ns: i64,
    len_ns: i64,
    count: usize,
}

/// One window of a grid, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowSpan {
    /// 0-based position in the grid.
    pub index: usize,
    /// Window start, ns since the epoch, inclusive.
    pub start_ns: i64,
    /// Window end, ns since the epoch (the next window's start, or the range end).
    pub end_ns: i64,
    /// Actual (possibly clipped) length in seconds.
    pub length_s: f64,
    /// Shorter than the nominal window length because the range ends inside it. (The
    /// last window may instead be longer, by a remainder of less than half a window.)
    pub clipped: bool,
}

impl WindowGrid {
    /// The grid of `len_ns`-long windows over `[start_ns, end_ns]`. `None` when
    /// `len_ns <= 0` or `end_ns < start_ns`. Always at least one window.
    pub fn new(start_ns: i64, end_ns: i64, len_ns: i64) -> Option<WindowGrid> {
        if len_ns <= 0 || end_ns < start_ns {
            return None;
        }
        let span = (end_ns as i128 - start_ns as i128) as u128;
        let len = len_ns as u128;
        let mut count = span.div_ceil(len).max(1);
        if count > 1 && (span - (count - 1) * len) * 2 < len {
            count -= 1;
        }
        let count = usize::try_from(count).ok()?;
        Some(WindowGrid { start_ns, end_ns, len_ns, count })
    }

    /// Number of windows (≥ 1).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Nominal window length in ns.
    pub fn len_ns(&self) -> i64 {
        self.len_ns
    }

    /// The window holding time `t_ns`, which must lie in `[start, end]` (values
    /// outside are clamped to the first or last window).
    #[inline]
    pub fn index(&self, t_ns: i64) -> usize {
        if t_ns <= self.start_ns {
            return 0;
        }
        let i = ((t_ns - self.start_ns) / self.len_ns) as u64;
        (i as usize).min(self.count - 1)
    }

    /// Bounds of window `i` (`i < count()`).
    pub fn span(&self, i: usize) -> WindowSpan {
        let start = self.start_ns.saturating_add((i as i64).saturating_mul(self.len_ns));
        let end = if i + 1 == self.count { self.end_ns } else { start.saturating_add(self.len_ns).min(self.end_ns) };
        WindowSpan { index: i, start_ns: start, end_ns: end, length_s: (end - start) as f64 / 1e9, clipped: end - start < self.len_ns }
    }

    /// Whether the whole range is shorter than one window.
    pub fn range_clipped(&self) -> bool {
        self.end_ns - self.start_ns < self.len_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn cuts_and_clips() {
        let g = WindowGrid::new(0, 150 * S, 60 * S).unwrap();
        assert_eq!(g.count(), 3);
        assert_eq!(g.index(0), 0);
        assert_eq!(g.index(59 * S), 0);
        assert_eq!(g.index(60 * S), 1);
        assert_eq!(g.index(150 * S), 2);
        let last = g.span(2);
        assert_eq!((last.start_ns, last.end_ns, last.clipped, last.length_s), (120 * S, 150 * S, true, 30.0));
        assert!(!g.span(0).clipped);
        assert!(!g.range_clipped());
    }

    #[test]
    fn a_short_remainder_joins_the_last_window() {
        let g = WindowGrid::new(0, 125 * S, 60 * S).unwrap();
        assert_eq!(g.count(), 2);
        assert_eq!(g.index(124 * S), 1);
        let last = g.span(1);
        assert_eq!((last.start_ns, last.end_ns, last.clipped, last.length_s), (60 * S, 125 * S, false, 65.0));
        // Half a window or more stays a window of its own.
        assert_eq!(WindowGrid::new(0, 90 * S, 60 * S).unwrap().count(), 2);
    }

    #[test]
    fn exact_multiple_puts_end_point_in_last_window() {
        let g = WindowGrid::new(0, 120 * S, 60 * S).unwrap();
        assert_eq!(g.count(), 2);
        assert_eq!(g.index(120 * S), 1);
        assert!(!g.span(1).clipped);
    }

    #[test]
    fn short_range_is_one_clipped_window() {
        let g = WindowGrid::new(10 * S, 40 * S, 3600 * S).unwrap();
        assert_eq!(g.count(), 1);
        assert!(g.range_clipped());
        assert_eq!(g.span(0).length_s, 30.0);
        let g = WindowGrid::new(5, 5, 10).unwrap();
        assert_eq!(g.count(), 1);
        assert_eq!(g.span(0).length_s, 0.0);
    }

    #[test]
    fn rejects_bad_grids() {
        assert!(WindowGrid::new(0, 10, 0).is_none());
        assert!(WindowGrid::new(10, 0, 5).is_none());
    }
}
