//! Taking a trained model elsewhere: [`onnx`] writes it as an ONNX graph that
//! ONNX Runtime, tract, Triton or a browser can run.

pub mod onnx;

pub use onnx::{onnx_bytes, onnx_bytes_int8, to_onnx, to_onnx_int8, write_onnx, ExportError};
