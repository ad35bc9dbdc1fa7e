//! Learning-rate schedules: how the step size changes over a run, with an
//! optional linear warm-up.

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the learning rate moves from step to step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Multiply the rate by `gamma` every `every` epochs.
    Step {
        /// Epochs between two drops.
        every: usize,
        /// Factor of each drop (e.g. 0.1).
        gamma: f32,
    },
    /// Half a cosine from the rate down to `final_fraction` of it.
    Cosine {
        /// The last step's rate, as a fraction of the first (0).
        #[serde(default)]
        final_fraction: f32,
    },
    /// One cycle (Smith; PyTorch's `OneCycleLR`): cosine up from `lr / div_factor`
    /// to `lr` over the first `pct_start` of the steps, then cosine down to
    /// `lr / (div_factor · final_div_factor)`.
    OneCycle {
        /// Fraction of the steps spent rising (0.3).
        #[serde(default = "pct_start")]
        pct_start: f32,
        /// First rate = lr / div_factor (25).
        #[serde(default = "div_factor")]
        div_factor: f32,
        /// Last rate = first rate / final_div_factor (1e4).
        #[serde(default = "final_div_factor")]
        final_div_factor: f32,
    },
}

fn pct_start() -> f32 {
    0.3
}
fn div_factor() -> f32 {
    25.0
}
fn final_div_factor() -> f32 {
    1e4
}

impl Schedule {
    /// One-cycle with PyTorch's defaults.
    pub const ONE_CYCLE: Self = Schedule::OneCycle { pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4 };

    /// The rate of step `step` (from 0) of `total` steps, `per_epoch` steps an
    /// epoch, for base rate `lr`, after `warmup` steps of linear warm-up (the
    /// schedule then runs over the remaining steps).
    pub fn lr_at(&self, lr: f32, step: usize, total: usize, per_epoch: usize, warmup: usize) -> f32 {
        if step < warmup {
            // linear warm-up: lr · (t + 1) / W
            return lr * (step + 1) as f32 / warmup as f32;
        }
        let (t, n) = ((step - warmup) as f64, total.saturating_sub(warmup).max(1) as f64);
        let base = lr as f64;
        // cos_anneal(a, b, p): from a at p = 0 to b at p = 1 along half a cosine
        let anneal = |a: f64, b: f64, p: f64| b + (a - b) / 2.0 * (1.0 + (PI * p.clamp(0.0, 1.0)).cos());
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { every, gamma } => lr * gamma.powi((step / per_epoch.max(1) / every.max(1)) as i32),
            Schedule::Cosine { final_fraction } => {
                anneal(base, base * final_fraction as f64, t / (n - 1.0).max(1.0)) as f32
            }
            Schedule::OneCycle { pct_start, div_factor, final_div_factor } => {
                let initial = base / div_factor as f64;
                let last = initial / final_div_factor as f64;
                let peak = (pct_start as f64 * n - 1.0).max(0.0);
                if t <= peak {
                    anneal(initial, base, if peak > 0.0 { t / peak } else { 1.0 }) as f32
                } else {
                    anneal(base, last, (t - peak) / (n - 1.0 - peak).max(1.0)) as f32
                }
            }
        }
    }

    /// Checks the settings; `Err` says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Step { every: 0, .. } => Err("step schedule: every must be at least 1 epoch".into()),
            Schedule::Step { gamma, .. } if !(gamma > 0.0 && gamma <= 1.0) => {
                Err(format!("step schedule: gamma must be in (0, 1], got {gamma}"))
            }
            Schedule::Cosine { final_fraction } if !(0.0..=1.0).contains(&final_fraction) => {
                Err(format!("cosine schedule: final_fraction must be in [0, 1], got {final_fraction}"))
            }
            Schedule::OneCycle { pct_start, div_factor, final_div_factor }
                if !((0.0..1.0).contains(&pct_start) && div_factor >= 1.0 && final_div_factor >= 1.0) =>
            {
                Err("one_cycle schedule: pct_start must be in [0, 1), div_factor and final_div_factor ≥ 1".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_exactly_the_rate() {
        assert_eq!(Schedule::Constant.lr_at(1e-3, 77, 100, 10, 0), 1e-3);
    }

    #[test]
    fn one_cycle_matches_pytorch_at_its_corners() {
        let s = Schedule::ONE_CYCLE;
        let (lr, total) = (0.01, 235);
        assert!((s.lr_at(lr, 0, total, total, 0) - lr / 25.0).abs() < 1e-9);
        let peak = (0.3 * total as f64 - 1.0) as usize; // 69.5 → the top is between steps 69 and 70
        assert!(s.lr_at(lr, peak, total, total, 0) > 0.0099);
        let last = s.lr_at(lr, total - 1, total, total, 0);
        assert!((last - lr / 25.0 / 1e4).abs() < 1e-9, "last {last}");
        // rising, then falling
        assert!(s.lr_at(lr, 30, total, total, 0) < s.lr_at(lr, 60, total, total, 0));
        assert!(s.lr_at(lr, 100, total, total, 0) > s.lr_at(lr, 200, total, total, 0));
    }

    #[test]
    fn step_cosine_and_warm_up() {
        let step = Schedule::Step { every: 2, gamma: 0.1 };
        assert_eq!(step.lr_at(1.0, 19, 100, 10, 0), 1.0);
        assert!((step.lr_at(1.0, 20, 100, 10, 0) - 0.1).abs() < 1e-7);
        let cos = Schedule::Cosine { final_fraction: 0.0 };
        assert_eq!(cos.lr_at(1.0, 0, 101, 10, 0), 1.0);
        assert!((cos.lr_at(1.0, 50, 101, 10, 0) - 0.5).abs() < 1e-6);
        assert!(cos.lr_at(1.0, 100, 101, 10, 0).abs() < 1e-7);
        // warm-up: linear to the rate, then the schedule starts from its beginning
        assert!((cos.lr_at(1.0, 0, 110, 10, 10) - 0.1).abs() < 1e-7);
        assert_eq!(cos.lr_at(1.0, 9, 110, 10, 10), 1.0);
        assert_eq!(cos.lr_at(1.0, 10, 110, 10, 10), 1.0);
    }
}
