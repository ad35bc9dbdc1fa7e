//! # chiffre
//!
//! The application around the engine: the command line ([`cli`]), the HTTP
//! server ([`serve`]), the static web site ([`site`]), the HTML report
//! ([`report`]), the run history ([`runs`]), ONNX export ([`export`]), the
//! MNIST download ([`download`]) and benchmarks ([`mod@bench`]). The tutorial's worked examples are the
//! core's ([`tutorial`]), so that the web page computes them too.
//!
//! The engine itself (tensors, layers, training, preprocessing, reading) is
//! the crate `chiffre-core` (`crates/chiffre-core`); its modules are
//! re-exported here under the same names, so `chiffre::layers` is
//! `chiffre_core::layers`. A program that only trains or reads digits can
//! depend on `chiffre-core` alone.

pub mod bench;
pub mod cli;
pub mod download;
pub mod export;
pub mod preview;
pub mod report;
pub mod runs;
pub mod serve;
pub mod site;

pub use chiffre_core::{
    data, fsutil, kernels, layers, loss, metrics, model, optim, predict, preprocess, reading, reject, segment, tensor,
    train, tutorial,
};
pub use chiffre_core::{Model, Prediction};
