//! Taking a trained model elsewhere: [`onnx`] writes it as an ONNX graph that
//! ONNX Runtime, tract, Triton or a browser can run.

pub mod onnx;

pub use onnx::{onnx_bytes, to_onnx, write_onnx, ExportError};
