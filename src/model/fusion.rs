//! The fusion plan: which layers of a sequential network run as one step.
//!
//! A convolution followed by a ReLU and a 2×2 max pooling, or a batch
//! normalisation followed by a ReLU, runs as one pass over each block of
//! data (see `kernels::conv_forward_fused` and `BatchNorm::forward_fused`)
//! instead of one pass per layer; [`super::Sequential`] follows the plan.

use super::spec::LayerSpec;
use crate::kernels::Epilogue;
use crate::layers::Layer;

/// Layers `first..=last`, run as one: a convolution and the ReLU and 2×2
/// max pooling right after it (its epilogue), a batch normalisation and the
/// ReLU after it, or one layer on its own.
///
/// Fusing is an execution plan only: the layers, their parameters, files
/// and reports stay as the spec lists them. It gives the same numbers as
/// running the layers one by one (max pooling and ReLU commute, and the
/// pooling keeps the first of equal maxima either way), but the
/// convolution's output is pooled while its block is in cache instead of
/// going through memory three times (tests/training.rs checks the two ways
/// agree, forward and backward).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Step {
    /// The first layer of the step.
    pub first: usize,
    /// The last layer of the step (`first` when it runs alone).
    pub last: usize,
    /// What runs fused, or `None` for one layer on its own.
    pub fusion: Option<Fusion>,
}

/// What a fused step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fusion {
    /// A convolution with the layers its epilogue stands for.
    Conv(Epilogue),
    /// A batch normalisation followed by a ReLU.
    BatchNormRelu,
}

/// The steps of a network of `specs`: each convolution takes the ReLU
/// and the 2×2/stride-2 max pooling that follow it, in either order; each
/// batch normalisation takes the ReLU that follows it.
pub(super) fn fusion_plan(specs: &[LayerSpec]) -> Vec<Step> {
    let mut steps = Vec::with_capacity(specs.len());
    let mut i = 0;
    while i < specs.len() {
        let mut step = Step { first: i, last: i, fusion: None };
        let next_is_relu = matches!(specs.get(i + 1), Some(LayerSpec::Relu));
        if let (LayerSpec::BatchNorm2d { .. } | LayerSpec::BatchNorm1d { .. }, true) = (&specs[i], next_is_relu) {
            step = Step { first: i, last: i + 1, fusion: Some(Fusion::BatchNormRelu) };
        } else if let LayerSpec::Conv2d { .. } = specs[i] {
            let mut epilogue = Epilogue::default();
            for next in &specs[i + 1..] {
                match *next {
                    LayerSpec::Relu if !epilogue.relu => epilogue.relu = true,
                    LayerSpec::MaxPool2d { size: 2, stride: None | Some(2) } if !epilogue.max_pool_2x2 => {
                        epilogue.max_pool_2x2 = true
                    }
                    _ => break,
                }
                step.last += 1;
            }
            step.fusion = (step.last > i).then_some(Fusion::Conv(epilogue));
        }
        steps.push(step);
        i = step.last + 1;
    }
    steps
}

/// The first layer of a fused step as the `T` (a convolution, a batch
/// normalisation) that [`fusion_plan`] found there in the spec.
pub(super) fn step_layer<T: Layer>(layer: &mut dyn Layer) -> &mut T {
    let any: &mut dyn std::any::Any = layer;
    match any.downcast_mut::<T>() {
        Some(layer) => layer,
        None => unreachable!("fusion_plan fuses only what build_layer builds from the same spec"),
    }
}
