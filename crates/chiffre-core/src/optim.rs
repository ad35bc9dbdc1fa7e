//! Optimizers: turn gradients into weight updates (the tutorial's gradient
//! descent, and its two popular refinements).
//!
//! Each optimizer keeps its per-parameter state (velocities, moments) in
//! buffers allocated at the first step and reused.

use crate::model::Sequential;
use crate::par::prelude::*;
use serde::{Deserialize, Serialize};

/// Parameters per parallel task.
const BLOCK: usize = 1 << 14;

/// Which update rule, with its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional momentum (Keras' form):
    /// `v ← μ·v - lr·g;  w ← w + v` (plain SGD when `μ = 0`: `w ← w - lr·g`).
    Sgd {
        /// μ, in `[0, 1)`.
        momentum: f32,
    },
    /// RMSprop: divide the step by a running root-mean-square of the gradient:
    /// `s ← ρ·s + (1-ρ)·g²;  w ← w - lr·g / √(s + ε)` (ε inside the root, as
    /// Keras 3 and TensorFlow do, which bounds the step of a weight whose
    /// gradients are tiny).
    RmsProp {
        /// ρ, decay of the running mean (Keras: 0.9).
        rho: f32,
        /// ε (Keras: 1e-7).
        eps: f32,
    },
    /// Adam: momentum on the gradient and on its square, bias-corrected:
    /// `m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  w ← w - lr·m̂ / (√v̂ + ε)`.
    Adam {
        /// β₁ (0.9).
        beta1: f32,
        /// β₂ (0.999).
        beta2: f32,
        /// ε (Keras: 1e-7).
        eps: f32,
    },
    /// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), as
    /// PyTorch's `AdamW`: `w ← w - lr·λ·w`, then the Adam step. The decay
    /// applies to weight matrices and kernels only (tensors of two or more
    /// dimensions), not to biases nor batch-norm scales.
    #[serde(rename = "adamw")]
    AdamW {
        /// β₁ (0.9).
        beta1: f32,
        /// β₂ (0.999).
        beta2: f32,
        /// ε (PyTorch: 1e-8).
        eps: f32,
        /// λ, the decay per unit of learning rate (PyTorch: 0.01).
        weight_decay: f32,
    },
}

impl OptimizerKind {
    /// SGD without momentum.
    pub const SGD: Self = OptimizerKind::Sgd { momentum: 0.0 };
    /// RMSprop with Keras' defaults.
    pub const RMSPROP: Self = OptimizerKind::RmsProp { rho: 0.9, eps: 1e-7 };
    /// Adam with Keras' defaults.
    pub const ADAM: Self = OptimizerKind::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-7 };

    /// AdamW with PyTorch's defaults.
    pub const ADAMW: Self = OptimizerKind::AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };

    /// The usual learning rate for this rule (Keras' defaults: 0.01 for SGD, 1e-3 otherwise).
    pub fn default_lr(&self) -> f32 {
        match self {
            OptimizerKind::Sgd { .. } => 0.01,
            _ => 1e-3,
        }
    }

    /// The rule's name, as written in spec files.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerKind::Sgd { .. } => "sgd",
            OptimizerKind::RmsProp { .. } => "rmsprop",
            OptimizerKind::Adam { .. } => "adam",
            OptimizerKind::AdamW { .. } => "adamw",
        }
    }

    /// Refuses hyper-parameters outside their range: momentum, ρ, β₁ and β₂
    /// in `[0, 1)`, ε positive, the weight decay 0 or more.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{} {name} must be in [0, 1), got {v}", self.name()))
            }
        };
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{} {name} must be a positive number, got {v}", self.name()))
            }
        };
        match *self {
            OptimizerKind::Sgd { momentum } => unit("momentum", momentum),
            OptimizerKind::RmsProp { rho, eps } => unit("rho", rho).and(positive("eps", eps)),
            OptimizerKind::Adam { beta1, beta2, eps } => {
                unit("beta1", beta1).and(unit("beta2", beta2)).and(positive("eps", eps))
            }
            OptimizerKind::AdamW { beta1, beta2, eps, weight_decay } => {
                unit("beta1", beta1).and(unit("beta2", beta2)).and(positive("eps", eps))?;
                if weight_decay.is_finite() && weight_decay >= 0.0 {
                    Ok(())
                } else {
                    Err(format!("adamw weight_decay must be 0 or more, got {weight_decay}"))
                }
            }
        }
    }
}

/// An optimizer: a rule, a learning rate, and its state per parameter.
#[derive(Clone, Debug)]
pub struct Optimizer {
    /// The update rule.
    pub kind: OptimizerKind,
    /// The learning rate.
    pub lr: f32,
    /// Steps taken so far.
    pub steps: u64,
    /// First state buffer per parameter (velocity, mean square, or m).
    state1: Vec<Vec<f32>>,
    /// Second state buffer per parameter (Adam's v).
    state2: Vec<Vec<f32>>,
}

impl Optimizer {
    /// A fresh optimizer.
    pub fn new(kind: OptimizerKind, lr: f32) -> Self {
        Optimizer { kind, lr, steps: 0, state1: Vec::new(), state2: Vec::new() }
    }

    /// Applies one update to every parameter of `model` from its gradients.
    pub fn step(&mut self, model: &mut Sequential) {
        self.steps += 1;
        let (kind, lr, t) = (self.kind, self.lr, self.steps as i32);
        let mut index = 0;
        let (state1, state2) = (&mut self.state1, &mut self.state2);
        model.visit_params_mut(&mut |_, _, param| {
            if state1.len() <= index {
                state1.push(vec![0.0; param.value.len()]);
                state2.push(Vec::new());
            }
            let decays = param.value.shape().len() >= 2;
            let w = param.value.data_mut();
            let g = param.grad.data();
            let s1 = &mut state1[index];
            // Element-wise updates, in parallel blocks (same result for any thread count).
            let blocks = w.par_chunks_mut(BLOCK).zip(g.par_chunks(BLOCK));
            match kind {
                OptimizerKind::Sgd { momentum: 0.0 } => blocks.for_each(|(w, g)| {
                    for (w, g) in w.iter_mut().zip(g) {
                        *w -= lr * g;
                    }
                }),
                OptimizerKind::Sgd { momentum } => blocks.zip(s1.par_chunks_mut(BLOCK)).for_each(|((w, g), v)| {
                    for ((w, g), v) in w.iter_mut().zip(g).zip(v) {
                        *v = momentum * *v - lr * g;
                        *w += *v;
                    }
                }),
                OptimizerKind::RmsProp { rho, eps } => blocks.zip(s1.par_chunks_mut(BLOCK)).for_each(|((w, g), s)| {
                    for ((w, g), s) in w.iter_mut().zip(g).zip(s) {
                        *s = rho * *s + (1.0 - rho) * g * g;
                        *w -= lr * g / (*s + eps).sqrt();
                    }
                }),
                OptimizerKind::Adam { beta1, beta2, eps } | OptimizerKind::AdamW { beta1, beta2, eps, .. } => {
                    let decay = match kind {
                        OptimizerKind::AdamW { weight_decay, .. } if decays => 1.0 - lr * weight_decay,
                        _ => 1.0,
                    };
                    let s2 = &mut state2[index];
                    s2.resize(s1.len(), 0.0);
                    let c1 = 1.0 - beta1.powi(t);
                    let c2 = 1.0 - beta2.powi(t);
                    let moments = s1.par_chunks_mut(BLOCK).zip(s2.par_chunks_mut(BLOCK));
                    blocks.zip(moments).for_each(|((w, g), (m, v))| {
                        for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                            if decay != 1.0 {
                                // decoupled weight decay: w ← w - lr·λ·w
                                *w *= decay;
                            }
                            *m = beta1 * *m + (1.0 - beta1) * g;
                            *v = beta2 * *v + (1.0 - beta2) * g * g;
                            *w -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                        }
                    });
                }
            }
            index += 1;
        });
    }
}

impl Optimizer {
    /// The per-parameter state buffers (first, second; the second is empty
    /// for rules that keep one), for checkpoints.
    pub fn state(&self) -> Vec<(&[f32], &[f32])> {
        self.state1.iter().zip(&self.state2).map(|(a, b)| (a.as_slice(), b.as_slice())).collect()
    }

    /// Restores state saved from [`Optimizer::state`] after `steps` steps.
    pub fn set_state(&mut self, steps: u64, state: Vec<(Vec<f32>, Vec<f32>)>) {
        self.steps = steps;
        (self.state1, self.state2) = state.into_iter().unzip();
    }
}
