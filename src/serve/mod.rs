//! `chiffre serve`: a web page to draw a digit and watch the network read it,
//! and a small JSON API, on one HTTP server.
//!
//! | path | what |
//! |---|---|
//! | `GET /` (+ `/app.js`, `/style.css`) | the page ([`page`]), embedded in the binary |
//! | `POST /api/predict` | a picture or 784 pixels → digit, probabilities, the input the network saw ([`api`]) |
//! | `GET /api/model` | architecture, parameters, test accuracy, training settings |
//! | `GET /healthz` | 200 while the model is loaded |
//!
//! Every request goes through [`guard`] (a bound on the requests in flight,
//! a deadline, one log line) and [`error::json_errors`] (errors as
//! `{"error": "..."}`). Prediction runs on a [`pool::Pool`] of worker
//! threads, one model each, never on the async threads.
//!
//! Why these crates: `axum` is a thin, well-documented router on `hyper`
//! whose handlers are plain async functions and whose middleware is a
//! function too (`middleware::from_fn`), which is all the limits and the log
//! need; `tokio` is the runtime it runs on, and gives the signal handling for
//! a graceful Ctrl-C; `tracing` (+ `tracing-subscriber`'s plain formatter) is
//! what axum and hyper report through, so one subscriber prints our
//! one-line-per-request log. No `tower-http`: its body-limit and timeout
//! layers answer with empty or plain-text bodies, and the API answers every
//! error in JSON, so those two limits are a dozen lines here instead.

pub mod api;
pub mod error;
pub mod guard;
pub mod maps;
pub mod page;
pub mod pool;

use crate::layers::Layer;
use crate::predict::{Model, PredictError};
use axum::routing::{get, post};
use axum::{middleware, Router};
use pool::Pool;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where to listen (loopback by default).
    pub addr: SocketAddr,
    /// Prediction workers, each with its own copy of the model (0: one per core).
    pub workers: usize,
    /// Requests handled at once; more get 503 at once.
    pub max_in_flight: usize,
    /// Deadline of one request, body included.
    pub timeout: Duration,
    /// Largest request body, in bytes; larger ones get 413.
    pub body_limit: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            max_in_flight: 64,
            timeout: Duration::from_secs(10),
            body_limit: 5 * 1024 * 1024,
        }
    }
}

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The model cannot be loaded (the message names the file).
    #[error(transparent)]
    Model(#[from] PredictError),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime or the server failed.
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// What the handlers share: the workers, the model's description, the
/// in-flight bound and the settings.
pub struct AppState {
    /// The prediction workers.
    pub pool: Pool,
    /// What `GET /api/model` answers.
    pub model_info: serde_json::Value,
    /// One permit per request allowed in flight.
    pub in_flight: Arc<Semaphore>,
    /// The settings.
    pub config: ServeConfig,
}

impl AppState {
    /// Loads the model once per worker and starts the workers.
    pub fn load(model: &Path, config: ServeConfig) -> Result<Self, ServeError> {
        let workers = if config.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.workers
        };
        let models = (0..workers).map(|_| Model::load(model)).collect::<Result<Vec<_>, _>>()?;
        let model_info = describe(&models[0], model);
        let mut config = config;
        config.workers = workers;
        config.max_in_flight = config.max_in_flight.max(1);
        Ok(AppState {
            pool: Pool::start(models, config.max_in_flight),
            model_info,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            config,
        })
    }
}

/// What `GET /api/model` says about a model: its name, file, parameter
/// count, classes, test accuracy, layers and training settings.
pub fn describe(model: &Model, file: &Path) -> serde_json::Value {
    let network = model.network();
    let layers: Vec<_> = network
        .layers()
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let parameters: usize = layer.params().iter().map(|(_, p)| p.value.len()).sum();
            serde_json::json!({
                "index": index,
                "kind": layer.kind(),
                "output_shape": layer.output_shape(),
                "parameters": parameters,
            })
        })
        .collect();
    let training = model.training().cloned().unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "name": network.spec().name,
        "file": file.file_name().map(|n| n.to_string_lossy().into_owned()),
        "input": network.input_shape(),
        "classes": model.num_classes(),
        "parameters": network.num_params(),
        "test_accuracy": training.get("test_accuracy"),
        "layers": layers,
        "spec": network.spec(),
        "training": training,
    })
}

/// The routes, with the limits, the JSON errors and the log around them.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/healthz", get(api::healthz))
        .route("/api/model", get(api::model))
        .route("/api/predict", post(api::predict))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard::limits))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(guard::log))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then finishes the
/// requests in flight and returns.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Loads `model`, listens on `config.addr`, calls `on_listening` with the
/// address actually bound (port 0 picks a free one), and serves until Ctrl-C
/// or SIGTERM.
pub fn run(
    model: &Path,
    config: ServeConfig,
    on_listening: impl FnOnce(SocketAddr, &AppState),
) -> Result<(), ServeError> {
    let state = Arc::new(AppState::load(model, config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let addr = state.config.addr;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        on_listening(listener.local_addr()?, &state);
        serve(listener, Arc::clone(&state), shutdown_signal()).await?;
        Ok::<(), ServeError>(())
    })?;
    tracing::info!("stopped");
    Ok(())
}
