//! The fusion plan: which layers of a sequential network run as one step.
//!
//! A convolution followed by a ReLU and a 2×2 max pooling, or a batch
//! normalisation followed by a ReLU, runs as one pass over each block of
//! data (see `kernels::conv_forward_fused` and `BatchNorm::forward_fused`)
//! instead of one pass per layer; [`super::Sequential`] follows the plan.
//!
//! Fusing is an execution plan only: the layers, their parameters, files
//! and reports stay as the spec lists them. It gives the same numbers as
//! running the layers one by one (max pooling and ReLU commute, and the
//! pooling keeps the first of equal maxima either way), but the
//! convolution's output is pooled while its block is in cache instead of
//! going through memory three times (tests/training.rs checks the two ways
//! agree, forward and backward).

use super::node::Node;
use crate::kernels::Epilogue;
use crate::layers::PoolKind;

/// Layers run as one step of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The convolution at `conv` with what its epilogue stands for: the ReLU
    /// and the 2×2/stride-2 max pooling after it, in either order, up to the
    /// layer `last`.
    ConvEpilogue {
        /// The convolution's index.
        conv: usize,
        /// The last layer the step covers.
        last: usize,
        /// What the convolution's kernel does to its output on the way out.
        epilogue: Epilogue,
    },
    /// The batch normalisation at `batch_norm` and the ReLU right after it.
    BatchNormRelu {
        /// The batch normalisation's index.
        batch_norm: usize,
    },
    /// One layer on its own.
    Single(usize),
}

impl Step {
    /// The first layer of the step.
    pub fn first(self) -> usize {
        match self {
            Step::ConvEpilogue { conv, .. } => conv,
            Step::BatchNormRelu { batch_norm } => batch_norm,
            Step::Single(i) => i,
        }
    }

    /// The last layer of the step.
    pub fn last(self) -> usize {
        match self {
            Step::ConvEpilogue { last, .. } => last,
            Step::BatchNormRelu { batch_norm } => batch_norm + 1,
            Step::Single(i) => i,
        }
    }
}

/// The steps of a network of `nodes`: each convolution takes the ReLU and
/// the 2×2/stride-2 max pooling that follow it, in either order; each batch
/// normalisation takes the ReLU that follows it; every other layer runs
/// alone.
pub fn fusion_plan(nodes: &[Node]) -> Vec<Step> {
    let mut steps = Vec::with_capacity(nodes.len());
    let mut i = 0;
    while i < nodes.len() {
        let step = match (&nodes[i], nodes.get(i + 1)) {
            (Node::BatchNorm(_), Some(Node::Relu(_))) => Step::BatchNormRelu { batch_norm: i },
            (Node::Conv2d(_), _) => {
                let (mut epilogue, mut last) = (Epilogue::default(), i);
                for next in &nodes[i + 1..] {
                    match next {
                        Node::Relu(_) if !epilogue.relu => epilogue.relu = true,
                        Node::Pool2d(p)
                            if p.pool_kind() == PoolKind::Max
                                && p.size() == 2
                                && p.stride() == 2
                                && !epilogue.max_pool_2x2 =>
                        {
                            epilogue.max_pool_2x2 = true
                        }
                        _ => break,
                    }
                    last += 1;
                }
                if last > i {
                    Step::ConvEpilogue { conv: i, last, epilogue }
                } else {
                    Step::Single(i)
                }
            }
            _ => Step::Single(i),
        };
        steps.push(step);
        i = step.last() + 1;
    }
    steps
}
