//! A bounded load test of `chiffre serve` on loopback (ignored by default:
//! it measures, and the machine it runs on decides the figures):
//!
//! ```sh
//! cargo test --release --test serve_load -- --ignored --nocapture
//! ```
//!
//! A few concurrent clients (keep-alive connections) send a fixed number of
//! `POST /api/predict` each, then stop; it prints requests/s, p50/p99
//! latency and the server's resident memory before and after, for three kinds
//! of body: MNIST test digits as 28×28 PNGs (an API client), drawings as the
//! page sends them (140×140, dark ink on white, the full preprocessing), and
//! the same at 280×280 (the page's whole canvas).
//! The second round of the first kind checks that memory does not grow. The
//! server's CPU time per request (from /proc) is what the machine's load
//! does not change much: 2 cores / that = the throughput a quiet machine allows.
//! Every answer must be 200; the targets (≥ 500 predictions/s, p99 ≤ 20 ms
//! on 2 cores) are reported, not asserted.

mod common;

use common::render::{encode, mnist_picture, render, Kind};
use common::serve::{trained_cnn, Server};
use common::{read_mnist_prefix, Part};
use image::{DynamicImage, ImageFormat};
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// Concurrent clients.
const CLIENTS: usize = 4;
/// Requests per client and round.
const PER_CLIENT: usize = 1000;

/// What one round measured.
struct Round {
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// `CLIENTS` threads each send `per_client` requests, cycling through `bodies`.
fn round(url: &str, bodies: &[Vec<u8>], per_client: usize) -> Round {
    let start = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                    (0..per_client)
                        .map(|i| {
                            let body = &bodies[(c * per_client + i) % bodies.len()];
                            let t = Instant::now();
                            let response = agent
                                .post(url)
                                .set("Content-Type", "image/png")
                                .send_bytes(body)
                                .unwrap_or_else(|e| panic!("request {i} of client {c}: {e}"));
                            assert_eq!(response.status(), 200);
                            let text = response.into_string().expect("a body");
                            assert!(text.starts_with("{\"digit\":"), "{text}");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a client thread")).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort();
    let ms = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    Round { requests: latencies.len(), seconds, p50_ms: ms(0.5), p99_ms: ms(0.99), max_ms: ms(1.0) }
}

fn report(name: &str, r: &Round, rss_before: u64, rss_after: u64, cpu_seconds: f64) {
    let rate = r.requests as f64 / r.seconds;
    println!(
        "{name:<28} {:>5} requests, {CLIENTS} clients: {rate:>6.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; \
         server CPU {:.3} ms/request; server RSS {:.1} -> {:.1} MB; target (>= 500 req/s, p99 <= 20 ms) {}",
        r.requests,
        r.p50_ms,
        r.p99_ms,
        r.max_ms,
        cpu_seconds * 1e3 / r.requests as f64,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        if rate >= 500.0 && r.p99_ms <= 20.0 { "met" } else { "NOT met" }
    );
}

#[test]
#[ignore = "a load test: run it on a quiet machine with --ignored --nocapture"]
fn load_on_loopback() {
    let model = trained_cnn();
    let server = Server::start(&model, &[]);
    let url = server.at("/api/predict");
    let images = read_mnist_prefix(Part::TestImages, 200);
    let mnist: Vec<Vec<u8>> = images
        .chunks_exact(784)
        .map(|p| encode(&DynamicImage::ImageLuma8(mnist_picture(p)), ImageFormat::Png, 0))
        .collect();
    // Dark ink on white, as the page draws it: 140×140 is what it sends, 280×280 its whole canvas.
    let drawings = |side: u32| -> Vec<Vec<u8>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        images
            .chunks_exact(784)
            .take(50)
            .map(|p| {
                let png = render(Kind::DarkOnWhite, p, &mut rng);
                let picture = image::load_from_memory(&png).expect("a PNG");
                encode(&picture.resize_exact(side, side, image::imageops::Triangle), ImageFormat::Png, 0)
            })
            .collect()
    };
    let rss = || server.rss_kb().expect("the server's memory from /proc");
    let cpu = || server.cpu_seconds().expect("the server's CPU time from /proc");

    // Warm up: each worker sizes its buffers once.
    round(&url, &mnist, 50);
    let (start, cpu0) = (rss(), cpu());
    let first = round(&url, &mnist, PER_CLIENT);
    let (after_first, cpu1) = (rss(), cpu());
    report("MNIST 28x28 PNG", &first, start, after_first, cpu1 - cpu0);
    let second = round(&url, &mnist, PER_CLIENT);
    let (after_second, cpu2) = (rss(), cpu());
    report("MNIST 28x28 PNG, again", &second, after_first, after_second, cpu2 - cpu1);
    let page = round(&url, &drawings(140), PER_CLIENT);
    let (after_page, cpu3) = (rss(), cpu());
    report("the page's 140x140 drawing", &page, after_second, after_page, cpu3 - cpu2);
    let canvas = round(&url, &drawings(280), PER_CLIENT);
    let (after_canvas, cpu4) = (rss(), cpu());
    report("a 280x280 drawing", &canvas, after_page, after_canvas, cpu4 - cpu3);

    assert!(
        after_second <= after_first + 4 * 1024,
        "memory grew by {} kB over a second identical round",
        after_second.saturating_sub(after_first)
    );
    assert_eq!(server.log().matches("POST /api/predict 200").count(), CLIENTS * (50 + 4 * PER_CLIENT));
}
