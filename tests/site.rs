//! `chiffre site` writes the static folder: the page, the engine, the models
//! with their index, the MNIST files; and refuses, before writing anything,
//! a model, an engine or a data folder it cannot use. (The page itself is
//! tested in headless Chromium by tests/browser/site.test.mjs.)

mod common;

use common::prelude::*;

/// The smallest valid WebAssembly module: its magic number and version.
const EMPTY_WASM: &[u8] = b"\0asm\x01\0\0\0";

#[test]
fn a_site_holds_the_page_the_engine_the_models_and_mnist() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let wasm = tmp.path().join("engine.wasm");
    std::fs::write(&wasm, EMPTY_WASM).unwrap();
    let out = tmp.path().join("site");
    let run = chiffre(["site", "--model", arg(&model), "--wasm", arg(&wasm), "--data", arg(&data), "--out", arg(&out)]);
    run.assert_ok();
    assert!(run.stdout.contains("python3 -m http.server"), "{}", run.stdout);
    for file in ["index.html", "style.css", "i18n.js", "engine.js", "app.js", "learn.js", "worker.js", "tutorial.js"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert_eq!(std::fs::read(out.join("chiffre_web.wasm")).unwrap(), EMPTY_WASM);
    let index: Value = serde_json::from_str(&std::fs::read_to_string(out.join("models/index.json")).unwrap()).unwrap();
    let name = model.file_stem().unwrap().to_string_lossy();
    assert_eq!(index["models"][0]["name"], *name);
    assert_eq!(index["models"][0]["parameters"], 7850);
    assert_eq!(index["mnist"], true);
    assert_eq!(std::fs::read(out.join(format!("models/{name}.safetensors"))).unwrap(), std::fs::read(&model).unwrap());
    for file in ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        // Written gzipped even from raw files (as this small data folder has them), and readable.
        let bytes = std::fs::read(out.join("mnist").join(file)).unwrap();
        assert_eq!(bytes[..2], [0x1f, 0x8b], "{file} is not gzipped");
        assert!(chiffre::data::idx_from_bytes(&bytes, Path::new(file)).is_ok(), "{file} does not read back");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from another origin");
}

#[test]
fn what_the_site_cannot_use_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let wasm = tmp.path().join("engine.wasm");
    std::fs::write(&wasm, EMPTY_WASM).unwrap();
    let not_wasm = tmp.path().join("notes.wasm");
    std::fs::write(&not_wasm, "not a module").unwrap();
    let not_model = tmp.path().join("notes.safetensors");
    std::fs::write(&not_model, "not a model").unwrap();
    let out = tmp.path().join("site");
    let site = |model: &Path, wasm: &Path, data: &Path| {
        chiffre(["site", "--model", arg(model), "--wasm", arg(wasm), "--data", arg(data), "--out", arg(&out)])
    };
    site(&not_model, &wasm, &data).assert_error(&["notes.safetensors"]);
    site(&model, &not_wasm, &data).assert_error(&[
        "notes.wasm",
        "not a WebAssembly module",
        "crates/chiffre-web/build.sh",
    ]);
    site(&tmp.path().join("none.safetensors"), &wasm, &data).assert_error(&["none.safetensors", "no such file"]);
    site(&model, &wasm, &tmp.path().join("nowhere")).assert_error(&["nowhere", "MNIST"]);
    assert!(!out.exists(), "a refused site leaves no folder behind");
}
