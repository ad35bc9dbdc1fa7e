//! # chiffre-core
//!
//! The engine of chiffre, with nothing of the application: no CLI, server,
//! report, network or image decoding unless asked for (feature `image`).
//! Feature `parallel` (default) threads through rayon; without it every
//! kernel runs on the calling thread with the numbers of one thread, and the
//! crate builds for `wasm32-unknown-unknown`.
//!
//! A small, fast, from-scratch convolutional neural network that learns to
//! read handwritten digits (MNIST), written to be read: every layer keeps its
//! forward and backward pass side by side.
//!
//! The rooms, in the order the data flows through them:
//! [`data`] (IDX files → `u8` images) → [`model`] (a [`model::Sequential`]
//! stack of [`layers`], whose hot loops live in [`kernels`]) → [`loss`] →
//! back-propagation → [`optim`] → [`model::save`]. [`train`] runs the loop and
//! [`metrics`] scores the result.
//! To read a digit in any picture, [`Model`] puts [`preprocess`] (MNIST-style:
//! polarity, ink, crop, 20-pixel box, centre of mass) in front of a trained
//! network: [`Model::load`], then [`Model::predict`] or [`Model::predict_pixels`].
//!
//! ```no_run
//! use chiffre_core::{data::{default_data_dir, Mnist}, model::{preset, Sequential}, train};
//! let mnist = Mnist::load(&default_data_dir()).unwrap();
//! let mut model = Sequential::new(&preset("mlp", 10).unwrap(), 1).unwrap();
//! let config = train::TrainConfig {
//!     epochs: 1, batch_size: 128, optimizer: chiffre_core::optim::OptimizerKind::RMSPROP,
//!     lr: 1e-3, loss: chiffre_core::loss::Loss::CrossEntropy, seed: 1, ..Default::default()
//! };
//! train::train(&mut model, &mnist.train, None, &config, &mut train::Quiet).unwrap();
//! let result = train::evaluate(&mut model, &mnist.test, config.loss);
//! println!("test accuracy {:.4}", result.accuracy);
//! ```

pub mod data;
pub mod fsutil;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod par;
pub mod predict;
pub mod preprocess;
pub mod reading;
pub mod reject;
pub mod segment;
pub mod tensor;
pub mod train;
pub mod tutorial;

pub use predict::{Model, NotANumber, Prediction};
