//! Capacity forecasts: a least-squares line through a metric's recent history, and when
//! that line reaches a limit. The daemon keeps each forecast's window of points in memory
//! (seeded from the store at start) and adds the result as a derived metric, in days,
//! before thresholds apply: `thresholds = { days_until_full = { warn = "30d" } }`.

use std::collections::{HashMap, VecDeque};

use crate::policy::ForecastSpec;
use crate::result::Metric;

/// A fitted line `value = intercept + slope * t`, t in seconds since the first point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub t0_ms: i64,
    pub slope_per_s: f64,
    pub intercept: f64,
    pub points: usize,
}

impl Fit {
    /// Seconds from `now_ms` until the line reaches `limit`: 0 if it already has, `None`
    /// if it is not heading there.
    pub fn seconds_until(&self, limit: f64, now_ms: i64) -> Option<f64> {
        let now = (now_ms - self.t0_ms) as f64 / 1000.0;
        let current = self.intercept + self.slope_per_s * now;
        // Which way the limit lies is decided where the history starts: a filling disk
        // approaches 100% from below, free bytes approach 0 from above.
        let rising = limit >= self.intercept;
        let reached = if rising { current >= limit } else { current <= limit };
        let heading = if rising { self.slope_per_s > 0.0 } else { self.slope_per_s < 0.0 };
        if reached {
            Some(0.0)
        } else if heading {
            Some((limit - current) / self.slope_per_s)
        } else {
            None
        }
    }
}

/// Ordinary least squares over (ms, value) points; `None` for fewer than two points or
/// when they share one time.
pub fn least_squares(points: &[(i64, f64)]) -> Option<Fit> {
    let t0 = points.first()?.0;
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let xs = points.iter().map(|(t, _)| (t - t0) as f64 / 1000.0);
    let mean_x = xs.clone().sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, (_, y)) in xs.zip(points) {
        sxx += (x - mean_x) * (x - mean_x);
        sxy += (x - mean_x) * (y - mean_y);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some(Fit { t0_ms: t0, slope_per_s: slope, intercept: mean_y - slope * mean_x, points: points.len() })
}

/// The fewest points a forecast is made from.
pub const MIN_POINTS: usize = 4;
/// Points kept per series; past this, every other one is dropped (the line barely moves).
const MAX_POINTS: usize = 4096;

/// One forecast's recent points.
#[derive(Debug, Default, Clone)]
pub struct Series(VecDeque<(i64, f64)>);

impl Series {
    pub fn new(points: Vec<(i64, f64)>) -> Series {
        Series(points.into())
    }

    fn push(&mut self, at_ms: i64, value: f64, window_ms: i64) {
        self.0.push_back((at_ms, value));
        while self.0.front().is_some_and(|(t, _)| at_ms - t > window_ms) {
            self.0.pop_front();
        }
        if self.0.len() > MAX_POINTS {
            self.0 = self.0.iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, p)| *p).collect();
        }
    }

    /// Days until `limit`, when there is enough history: at least [`MIN_POINTS`] points
    /// covering a quarter of the window or an hour, whichever is less.
    pub fn days_until(&self, f: &ForecastSpec, now_ms: i64) -> Option<f64> {
        let (first, last) = (self.0.front()?.0, self.0.back()?.0);
        let needed = (f.window.as_millis() as i64 / 4).min(3_600_000);
        if self.0.len() < MIN_POINTS || last - first < needed {
            return None;
        }
        let points: Vec<(i64, f64)> = self.0.iter().copied().collect();
        least_squares(&points)?.seconds_until(f.reaches, now_ms).map(|s| s / 86400.0)
    }
}

/// Every forecast's series, by (check, forecast name).
#[derive(Debug, Default)]
pub struct Forecasts {
    series: HashMap<(String, String), Series>,
}

impl Forecasts {
    pub fn has(&self, check: &str, forecast: &str) -> bool {
        self.series.contains_key(&(check.to_string(), forecast.to_string()))
    }

    pub fn seed(&mut self, check: &str, forecast: &str, series: Series) {
        self.series.insert((check.to_string(), forecast.to_string()), series);
    }

    /// Drops series of checks no longer configured.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.series.retain(|(c, _), _| keep(c));
    }

    /// Adds this run's points of `check` and returns its derived metrics.
    pub fn derive(&mut self, check: &str, forecasts: &[ForecastSpec], metrics: &[Metric], now_ms: i64) -> Vec<Metric> {
        let mut out = Vec::new();
        for f in forecasts {
            let Some(m) = metrics.iter().find(|m| m.name == f.metric) else { continue };
            let series = self.series.entry((check.to_string(), f.name.clone())).or_default();
            series.push(now_ms, m.value, f.window.as_millis() as i64);
            if let Some(days) = series.days_until(f, now_ms) {
                out.push(Metric { name: f.name.clone(), value: (days * 100.0).round() / 100.0, unit: "days".into() });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAY: i64 = 86_400_000;

    fn disk() -> ForecastSpec {
        crate::policy::ForecastSpec {
            name: "days_until_full".into(),
            metric: "used".into(),
            reaches: 100.0,
            reaches_text: "100%".into(),
            window: Duration::from_secs(7 * 86400),
        }
    }

    #[test]
    fn a_line_is_fitted_exactly() {
        // 1 point per hour, +0.5 per hour: 50 → 100 takes 100 hours from the first point.
        let pts: Vec<(i64, f64)> = (0..10).map(|h| (h * 3_600_000, 50.0 + 0.5 * h as f64)).collect();
        let fit = least_squares(&pts).unwrap();
        assert!((fit.slope_per_s * 3600.0 - 0.5).abs() < 1e-9);
        let left = fit.seconds_until(100.0, 9 * 3_600_000).unwrap();
        assert!((left / 3600.0 - 91.0).abs() < 1e-6, "{left}");
    }

    #[test]
    fn the_seed_disk_fills_in_about_three_weeks() {
        // The seed team's disk: 70% used, growing 1.5 points a day, with daily noise.
        let noise = [0.3, -0.2, 0.1, -0.4, 0.2, 0.0, -0.1];
        let mut s = Series::default();
        for d in 0..7 {
            s.push(d * DAY, 70.0 + 1.5 * d as f64 + noise[d as usize], 7 * DAY);
        }
        let days = s.days_until(&disk(), 6 * DAY).unwrap();
        // (100 - 79) / 1.5 = 14 days from day 6, give or take the noise.
        assert!((13.0..15.5).contains(&days), "{days}");
    }

    #[test]
    fn no_forecast_when_shrinking_flat_or_too_short() {
        let falling: Vec<(i64, f64)> = (0..10).map(|h| (h * 3_600_000, 80.0 - h as f64)).collect();
        assert_eq!(least_squares(&falling).unwrap().seconds_until(100.0, 0), None);
        let flat: Vec<(i64, f64)> = (0..10).map(|h| (h * 3_600_000, 80.0)).collect();
        assert_eq!(least_squares(&flat).unwrap().seconds_until(100.0, 0), None);
        // Three points, or a few minutes of history, are not a trend.
        let s = Series::new(vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0), (180_000, 4.0)]);
        assert_eq!(s.days_until(&disk(), 180_000), None);
        // Already past the limit: zero days.
        let full: Vec<(i64, f64)> = (0..10).map(|h| (h * 3_600_000, 95.0 + h as f64)).collect();
        assert_eq!(least_squares(&full).unwrap().seconds_until(100.0, 9 * 3_600_000), Some(0.0));
    }

    #[test]
    fn old_points_leave_the_window() {
        let mut s = Series::default();
        for h in 0..(24 * 10) {
            s.push(h * 3_600_000, h as f64, 7 * DAY);
        }
        assert!(s.0.front().unwrap().0 >= 3 * DAY - 3_600_000);
    }
}
