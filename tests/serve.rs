//! `chiffre serve` from the outside: the binary on an ephemeral loopback
//! port, called over HTTP. MNIST test digits are read as `chiffre predict`
//! reads them; every bad request gets its status and a JSON error, and the
//! server keeps answering; limits, deadline and Ctrl-C.

mod common;

use common::render::{encode, mnist_picture, render, Kind};
use common::serve::{call, post, trained_cnn, Answer, Server};
use common::{chiffre, read_mnist_prefix, Part};
use image::{DynamicImage, ImageFormat};
use rand::SeedableRng;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The first `n` MNIST test images (784 bytes each) and labels.
fn test_digits(n: usize) -> (Vec<u8>, Vec<u8>) {
    (read_mnist_prefix(Part::TestImages, n), read_mnist_prefix(Part::TestLabels, n))
}

fn png_of(pixels: &[u8]) -> Vec<u8> {
    encode(&DynamicImage::ImageLuma8(mnist_picture(pixels)), ImageFormat::Png, 0)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number") as f32).collect()
}

/// A prediction answer's shape: digit, confidence, 10 probabilities summing
/// to 1, 784 inputs in 0..1.
fn check_prediction(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{answer:?}");
    let json = answer.json();
    let p = floats(&json["probabilities"]);
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    let digit = json["digit"].as_u64().expect("a digit") as usize;
    assert_eq!(json["confidence"].as_f64().map(|c| c as f32), Some(p[digit]));
    let input = floats(&json["input"]);
    assert_eq!(input.len(), 784);
    let outside: Vec<f32> = input.iter().copied().filter(|v| !(0.0..=1.0).contains(v)).collect();
    assert!(outside.is_empty(), "inputs outside 0..1: {outside:?}");
    json
}

#[test]
fn mnist_test_digits_are_read_as_chiffre_predict_reads_them() {
    let model = trained_cnn();
    let server = Server::start(&model, &[]);
    let mut library = chiffre::Model::load(&model).expect("the trained model loads");
    let (images, labels) = test_digits(20);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut correct = 0;
    for (i, (pixels, &label)) in images.chunks_exact(784).zip(&labels).enumerate() {
        // As MNIST stores it, and as a user brings it: dark ink on a big white page.
        let kind = if i % 2 == 0 { None } else { Some(Kind::DarkOnWhite) };
        let bytes = kind.map_or_else(|| png_of(pixels), |k| render(k, pixels, &mut rng));
        let json = check_prediction(&post(&server.at("/api/predict"), "image/png", &bytes));
        // The same preprocessing and the same network as `chiffre predict`.
        let image = chiffre::preprocess::decode_bytes(&bytes, "digit").expect("a PNG");
        let seen = chiffre::preprocess::preprocess(&image).expect("a digit");
        let expected = library.predict_pixels(&seen).expect("the scores are numbers");
        assert_eq!(floats(&json["input"]), seen.to_vec(), "digit {i}: the input differs from preprocess()");
        assert_eq!(json["digit"].as_u64(), Some(expected.digit as u64), "digit {i}");
        let diff = floats(&json["probabilities"])
            .iter()
            .zip(&expected.probabilities)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-6, "digit {i}: probabilities differ by {diff}");
        correct += usize::from(json["digit"].as_u64() == Some(u64::from(label)));
    }
    assert!(correct >= 18, "only {correct} of 20 MNIST test digits read correctly");
}

#[test]
fn a_number_is_read_as_chiffre_predict_reads_it() {
    let model = trained_cnn();
    let server = Server::start(&model, &[]);
    let mut library = chiffre::Model::load(&model).expect("the trained model loads");
    let test = chiffre::data::Mnist::load_test(&chiffre::data::default_data_dir()).expect("MNIST test set");
    let number = (0..).map(|seed| common::numbers::number_of(&test, seed, 4, 50)).find(|n| !n.touching).unwrap();
    let answer = post(&server.at("/api/predict?maps=1"), "image/png", &number.bytes);
    assert_eq!(answer.status, 200, "{answer:?}");
    let json = answer.json();
    let image = chiffre::preprocess::decode_bytes(&number.bytes, "number").expect("a picture");
    let reading = library.read(&image).expect("a number");
    assert_eq!(json["number"], reading.text().as_str());
    let digits = json["digits"].as_array().expect("digits");
    assert_eq!(digits.len(), reading.digits().count());
    assert!(digits.len() >= 2, "{json}");
    for (d, r) in digits.iter().zip(reading.digits()) {
        assert_eq!(d["digit"].as_u64(), Some(r.prediction.digit as u64));
        assert_eq!(floats(&d["box"]), r.bounds.iter().map(|&v| v as f32).collect::<Vec<_>>());
        assert_eq!(floats(&d["input"]), r.pixels.to_vec());
    }
    // Several digits: no single-digit fields, no feature maps.
    assert!(json.get("digit").is_none() && json.get("maps").is_none(), "{json}");
}

#[test]
fn pixels_as_json_are_read_as_they_are() {
    let model = trained_cnn();
    let server = Server::start(&model, &[]);
    let (images, labels) = test_digits(1);
    let pixels: Vec<f32> = images.iter().map(|&b| f32::from(b) / 255.0).collect();
    let body = json!({ "pixels": pixels }).to_string();
    let json = check_prediction(&post(&server.at("/api/predict"), "application/json", body.as_bytes()));
    assert_eq!(floats(&json["input"]), pixels, "JSON pixels are not preprocessed");
    assert_eq!(json["digit"].as_u64(), Some(u64::from(labels[0])));
    assert!(json.get("maps").is_none(), "maps only on request");
}

#[test]
fn the_page_asks_for_feature_maps() {
    let server = Server::start(&trained_cnn(), &[]);
    let (images, _) = test_digits(1);
    let json = check_prediction(&post(&server.at("/api/predict?maps=1"), "image/png", &png_of(&images)));
    let maps = json["maps"].as_array().expect("maps");
    let shapes: Vec<(&str, &Value)> = maps.iter().map(|m| (m["label"].as_str().unwrap_or(""), &m["shape"])).collect();
    assert_eq!(shapes, vec![("conv2d + relu", &json!([26, 26, 32])), ("max_pool2d", &json!([13, 13, 32]))]);
    for m in maps {
        let side = m["shape"][0].as_u64().unwrap() as usize;
        let channels = m["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 32);
        assert!(channels.iter().all(|c| c.as_array().unwrap().len() == side * side));
        assert!(channels.iter().any(|c| c.as_array().unwrap().iter().any(|v| v.as_u64() == Some(255))));
    }
}

#[test]
fn health_model_and_page() {
    let server = Server::start(&trained_cnn(), &["--workers", "1"]);
    let health = call("GET", &server.at("/healthz"));
    assert_eq!((health.status, health.json()["status"].clone()), (200, json!("ok")));
    assert_eq!(health.json()["workers"], json!(1));
    let model = call("GET", &server.at("/api/model")).json();
    assert_eq!(model["parameters"], json!(93_322));
    assert_eq!(model["classes"], json!(10));
    assert_eq!(model["name"], json!("cnn"));
    assert_eq!(model["layers"].as_array().map(Vec::len), Some(12));
    assert_eq!(
        model["layers"][0],
        json!({"index": 0, "kind": "conv2d", "output_shape": [26, 26, 32], "parameters": 320})
    );
    let accuracy = model["test_accuracy"].as_f64().expect("the test accuracy");
    assert!(accuracy > 0.8 && accuracy <= 1.0, "{accuracy}");
    assert_eq!(model["training"]["train_examples"], json!(common::serve::TRAIN_LIMIT));
    assert_eq!(model["training"]["config"]["epochs"], json!(1));
    let page = call("GET", &server.at("/"));
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    for part in ["<canvas", "app.js", "style.css", "<label", "Clear"] {
        assert!(page.text.contains(part), "the page lacks {part}");
    }
    let script = call("GET", &server.at("/app.js"));
    assert!(script.content_type.starts_with("text/javascript") && script.text.contains("/api/predict"));
    assert!(call("GET", &server.at("/style.css")).content_type.starts_with("text/css"));
    assert!(server.log().contains("GET /api/model 200"), "one log line per request:\n{}", server.log());
}

#[test]
fn bad_requests_get_their_status_and_a_json_error_and_the_server_goes_on() {
    let server = Server::start(&trained_cnn(), &[]);
    let predict = server.at("/api/predict");
    let pixels = |n: usize, v: f64| json!({ "pixels": vec![v; n] }).to_string().into_bytes();
    post(&predict, "image/png", b"hello, not an image").assert_error(400, "not an image chiffre can read");
    post(&predict, "", b"GIF89a\x01\x00").assert_error(400, "damaged or truncated GIF");
    post(&predict, "image/png", b"").assert_error(400, "the body is empty");
    let blank = encode(&DynamicImage::ImageLuma8(image::GrayImage::new(64, 64)), ImageFormat::Png, 0);
    post(&predict, "image/png", &blank).assert_error(400, "the picture");
    post(&predict, "application/json", &pixels(783, 0.5)).assert_error(400, "\"pixels\" has 783 values");
    post(&predict, "application/json", &pixels(785, 0.5)).assert_error(400, "784 numbers in 0..1");
    post(&predict, "application/json", &pixels(784, 1.5)).assert_error(400, "pixel 0 is 1.5");
    post(&predict, "application/json", b"{\"pixels\": [0.1,").assert_error(400, "not valid JSON");
    post(&predict, "application/json", b"[1, 2]").assert_error(400, "no \"pixels\" array");
    post(&predict, "text/plain", b"7").assert_error(415, "image/* or pixels as application/json");
    call("GET", &server.at("/nope")).assert_error(404, "no such path: /nope");
    call("GET", &server.at("/api/predictions")).assert_error(404, "POST /api/predict");
    call("GET", &predict).assert_error(405, "GET is not allowed on /api/predict; use POST");
    call("DELETE", &server.at("/healthz")).assert_error(405, "use GET");
    call("POST", &server.at("/api/model")).assert_error(405, "use GET");

    // A declared length over the limit is refused before any of it is sent.
    let mut tcp = TcpStream::connect(server.host()).expect("connect");
    let head = "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000000\r\n\r\n";
    tcp.write_all(head.as_bytes()).expect("send the head");
    let raw = read_answer(&mut tcp);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("{\"error\":\"the body is over the limit of 5242880 bytes"), "{raw}");
    // A body without a declared length (chunked) is cut at the limit.
    let mut tcp = TcpStream::connect(server.host()).expect("connect");
    let head = "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n";
    tcp.write_all(head.as_bytes()).expect("send the head");
    let mut writer = tcp.try_clone().expect("a second handle");
    let sender = std::thread::spawn(move || {
        let chunk = [b"10000\r\n".as_slice(), &[0u8; 0x10000], b"\r\n"].concat();
        // 6 MB in 64 kB chunks; the server stops reading at 5 MB, so later writes may fail.
        (0..96).try_for_each(|_| writer.write_all(&chunk)).ok();
    });
    let raw = read_answer(&mut tcp);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("the body is over the limit"), "{raw}");
    sender.join().expect("the sender ends");

    let (images, _) = test_digits(1);
    check_prediction(&post(&predict, "image/png", &png_of(&images)));
    assert_eq!(call("GET", &server.at("/healthz")).status, 200);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// Reads what the server sends until it closes the connection (it does
/// after an answer to a body it did not read) or goes quiet for 5 s.
fn read_answer(tcp: &mut TcpStream) -> String {
    tcp.set_read_timeout(Some(Duration::from_secs(5))).expect("a read timeout");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut buf) {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_stalled_body_times_out_and_a_full_server_answers_503_at_once() {
    let server = Server::start(&trained_cnn(), &["--timeout", "2", "--max-in-flight", "1"]);
    // Half a body, then nothing: it holds the only place in flight until its deadline.
    let mut slow = TcpStream::connect(server.host()).expect("connect");
    let head = "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\n";
    slow.write_all(head.as_bytes()).and_then(|_| slow.write_all(&[0u8; 50])).expect("send half a request");
    // Let the server take the stalled request in first: a request sent at the same moment can win
    // the only place, and the stalled one is then refused instead (seen in about 1 run in 3).
    std::thread::sleep(Duration::from_millis(200));
    // Once the server has taken the stalled request in (at once, unless the machine is very busy),
    // any other request is refused at once, long before the stalled one's deadline.
    let start = Instant::now();
    let busy = loop {
        let t = Instant::now();
        let answer = call("GET", &server.at("/api/model"));
        if answer.status == 503 || start.elapsed() > Duration::from_secs(1) {
            break (answer, t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    busy.0.assert_error(503, "busy: 1 requests are in flight");
    assert!(busy.1 < Duration::from_secs(1), "503 should come at once, took {:?}", busy.1);
    assert_eq!(call("GET", &server.at("/healthz")).status, 200, "/healthz is not counted in flight");
    let raw = read_answer(&mut slow);
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("not answered within 2.0 s"), "{raw}");
    assert_eq!(call("GET", &server.at("/api/model")).status, 200, "the place is free again");
}

#[test]
fn concurrent_clients_all_get_their_answers() {
    let server = Server::start(&trained_cnn(), &["--quiet"]);
    let (images, _) = test_digits(8);
    let url = server.at("/api/predict");
    std::thread::scope(|s| {
        for pixels in images.chunks_exact(784) {
            let (url, bytes) = (&url, png_of(pixels));
            s.spawn(move || {
                let first = check_prediction(&post(url, "image/png", &bytes));
                for _ in 0..10 {
                    let again = check_prediction(&post(url, "image/png", &bytes));
                    assert_eq!(again["probabilities"], first["probabilities"], "the same picture, the same answer");
                }
            });
        }
    });
    assert!(!server.log().contains("POST /api/predict"), "--quiet logs no requests");
}

#[test]
fn ctrl_c_stops_the_server_gracefully() {
    let server = Server::start(&trained_cnn(), &[]);
    assert_eq!(call("GET", &server.at("/healthz")).status, 200);
    let status = server.interrupt(Duration::from_secs(10)).expect("the server stops within 10 s of Ctrl-C");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn serve_refuses_a_missing_model_or_a_bad_address_before_listening() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let missing = dir.path().join("nope.safetensors");
    let run = chiffre(["serve", "--model", common::arg(&missing), "--addr", "127.0.0.1:0"]);
    run.assert_error(&["nope.safetensors"]);
    assert!(!run.stdout.contains("http://"), "{}", run.describe());
    let run = chiffre(["serve", "--model", common::arg(&trained_cnn()), "--addr", "localhost"]);
    assert_eq!(run.status.code(), Some(2), "clap refuses an address without a port:\n{}", run.describe());
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("an address").to_string();
    chiffre(["serve", "--model", common::arg(&trained_cnn()), "--addr", &addr])
        .assert_error(&["cannot listen on", &addr]);
}
