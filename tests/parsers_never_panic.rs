//! Properties of every parser that reads outside input: whatever the bytes,
//! it returns `Ok` or `Err`, never panics. Random bytes test the first
//! checks; valid files with random damage (bytes changed, cut short) reach
//! the deeper ones. The fuzz targets of `fuzz/` explore the same entry
//! points for longer; their findings are kept below as regression tests.

use chiffre::data::idx_from_bytes;
use chiffre::model::{load_bytes, save, ModelSpec, Sequential};
use chiffre::preprocess::{decode_bytes, preprocess};
use proptest::collection::vec;
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Every parser on `bytes`; panics only if one of them does.
fn parse_everything(bytes: &[u8]) {
    if let Ok(a) = idx_from_bytes(bytes, Path::new("p")) {
        // A zero dimension makes an empty array whatever the others say (their product may overflow).
        let declared = match a.dims.contains(&0) {
            true => Some(0),
            false => a.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)),
        };
        assert_eq!(Some(a.data.len()), declared);
    }
    let _ = load_bytes(bytes, "p");
    if let Ok(text) = std::str::from_utf8(bytes) {
        for ext in ["json", "toml", ""] {
            if let Ok(spec) = ModelSpec::parse(text, ext) {
                let _ = Sequential::new(&spec, 0);
            }
        }
    }
    if let Ok(image) = decode_bytes(bytes, "p") {
        if let Ok(pixels) = preprocess(&image) {
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}

/// A small valid model file (a conv net on 6×6 inputs), a gzipped IDX file,
/// a PNG and a spec: the starting points of the damage.
fn valid_files() -> &'static [Vec<u8>; 4] {
    static FILES: OnceLock<[Vec<u8>; 4]> = OnceLock::new();
    FILES.get_or_init(|| {
        let spec = r#"{"name": "tiny", "input": [6, 6, 1], "layers": [
            {"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "relu"}, {"type": "max_pool2d", "size": 2},
            {"type": "flatten"}, {"type": "dense", "units": 3}]}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let net = Sequential::new(&serde_json::from_str(spec).unwrap(), 1).unwrap();
        save(&net, &serde_json::json!({"test_accuracy": 0.5}), &path).unwrap();
        let model = std::fs::read(path).unwrap();
        let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
        idx.extend(0..18u8);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &idx).unwrap();
        let mut png = Vec::new();
        let picture = image::GrayImage::from_fn(12, 12, |x, y| image::Luma([if x == 5 || y == 7 { 0 } else { 255 }]));
        image::DynamicImage::ImageLuma8(picture)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        [model, gz.finish().unwrap(), png, spec.as_bytes().to_vec()]
    })
}

/// A valid file with up to 8 bytes changed and possibly cut short.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    (0..4usize, vec((any::<prop::sample::Index>(), any::<u8>()), 0..8), any::<prop::sample::Index>(), any::<bool>())
        .prop_map(|(which, edits, cut, truncate)| {
            let mut bytes = valid_files()[which].clone();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        parse_everything(&bytes);
    }

    #[test]
    fn damaged_files_never_panic(bytes in damaged()) {
        parse_everything(&bytes);
    }

    #[test]
    fn random_specs_never_panic(
        layers in vec((0..9u8, 0..40usize, 0..6usize, 0..4usize), 0..8),
        input in (1..40usize, 1..40usize, 1..4usize),
    ) {
        // Well-formed specs with arbitrary (often impossible) sizes: the builder says no, never panics.
        let kinds = ["dense", "conv2d", "max_pool2d", "avg_pool2d", "flatten", "relu", "sigmoid", "tanh", "dropout"];
        let layers: Vec<String> = layers
            .iter()
            .map(|&(k, n, size, stride)| match kinds[usize::from(k)] {
                "dense" => format!(r#"{{"type": "dense", "units": {n}}}"#),
                "conv2d" => format!(r#"{{"type": "conv2d", "filters": {n}, "kernel": {size}, "stride": {stride}, "padding": "{}"}}"#,
                    if n % 2 == 0 { "same" } else { "valid" }),
                pool @ ("max_pool2d" | "avg_pool2d") => format!(r#"{{"type": "{pool}", "size": {size}, "stride": {stride}}}"#),
                "dropout" => format!(r#"{{"type": "dropout", "rate": {}}}"#, n as f32 / 30.0),
                other => format!(r#"{{"type": "{other}"}}"#),
            })
            .collect();
        let text = format!(r#"{{"input": [{}, {}, {}], "layers": [{}]}}"#, input.0, input.1, input.2, layers.join(", "));
        let spec = ModelSpec::parse(&text, "json").unwrap();
        if let Ok(mut net) = Sequential::new(&spec, 0) {
            let x = chiffre::tensor::Tensor::zeros(&[1, input.0, input.1, input.2]);
            let classes = net.num_classes();
            prop_assert_eq!(net.forward(&x, chiffre::layers::Mode::Eval).shape(), &[1, classes]);
        }
    }
}

#[test]
fn the_valid_files_are_valid() {
    // Otherwise the damage tests would start from nothing.
    let [model, idx, png, spec] = valid_files();
    assert!(load_bytes(model, "m").is_ok());
    assert_eq!(idx_from_bytes(idx, Path::new("i")).unwrap().dims, vec![2, 3, 3]);
    assert!(decode_bytes(png, "p").is_ok());
    assert!(Sequential::new(&ModelSpec::parse(std::str::from_utf8(spec).unwrap(), "json").unwrap(), 0).is_ok());
}

/// Writes the seed corpora of the fuzz targets (`fuzz/seeds/<target>/`):
/// small valid inputs that start the fuzzer inside each format.
#[test]
#[ignore = "writes into fuzz/seeds/; run by hand after changing a format"]
fn write_fuzz_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let [model, idx_gz, png, spec] = valid_files();
    write("model_file", "tiny-conv.safetensors", model);
    let dense = r#"{"name": "d", "input": [4, 4, 1], "layers": [{"type": "flatten"}, {"type": "dense", "units": 2}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.safetensors");
    save(&Sequential::new(&serde_json::from_str(dense).unwrap(), 1).unwrap(), &serde_json::json!({}), &path).unwrap();
    write("model_file", "tiny-dense.safetensors", &std::fs::read(&path).unwrap());

    write("idx", "images.gz", idx_gz);
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 10];
    labels.extend([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    write("idx", "labels", &labels);
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..784).map(|i| if (i / 28 + i % 28) % 9 == 0 { 255 } else { 0 }));
    write("idx", "one-image", &images);

    for (i, text) in [spec.as_slice(), dense.as_bytes()].iter().enumerate() {
        write("spec", &format!("json-{i}"), &[&[0u8][..], text].concat());
    }
    let toml = "name = \"small\"\ninput = [28, 28, 1]\n[[layers]]\ntype = \"conv2d\"\nfilters = 4\nkernel = 3\npadding = \"same\"\n[[layers]]\ntype = \"avg_pool2d\"\nsize = 2\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dropout\"\nrate = 0.25\n[[layers]]\ntype = \"dense\"\nunits = 10\n";
    write("spec", "toml-0", &[&[1u8][..], toml.as_bytes()].concat());

    write("image", "stroke.png", png);
    let picture = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(16, 16, |x, y| {
        image::Luma([if (6..9).contains(&x) && (2..14).contains(&y) { 10 } else { 240 }])
    }));
    for (name, format) in [
        ("stroke.jpg", image::ImageFormat::Jpeg),
        ("stroke.bmp", image::ImageFormat::Bmp),
        ("stroke.gif", image::ImageFormat::Gif),
        ("stroke.pgm", image::ImageFormat::Pnm),
        ("stroke.tiff", image::ImageFormat::Tiff),
        ("stroke.webp", image::ImageFormat::WebP),
    ] {
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgba8(picture.to_rgba8())
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .unwrap();
        write("image", name, &bytes);
    }
}

/// Inputs the fuzz targets found (`tests/fuzz_regressions/<target>/`): each
/// must now give an error or a valid result, in bounded time. The image ones
/// must give preprocessed values in `[0, 1]`. (`image/pam-slow.pam` timed out
/// under the sanitizer on a loaded machine: its ink is one pixel, whose
/// "stroke" is thinned with a disc of radius 30 at 160×160, about 0.16 s,
/// the most `normalise_strokes` can cost.)
#[test]
fn fuzz_findings_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut seen = 0;
    for target in ["idx", "model_file", "spec", "image"] {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let start = std::time::Instant::now();
            if let Ok(Ok(pixels)) = decode_bytes(&bytes, "r").map(|i| preprocess(&i)) {
                let bad: Vec<(usize, f32)> =
                    pixels.iter().copied().enumerate().filter(|(_, v)| !(0.0..=1.0).contains(v)).collect();
                assert!(bad.is_empty(), "{}: preprocessed values outside [0, 1]: {bad:?}", path.display());
            }
            parse_everything(&bytes);
            let took = start.elapsed();
            assert!(took < std::time::Duration::from_secs(5), "{}: {took:?}", path.display());
            seen += 1;
        }
    }
    assert!(seen > 0, "no regression inputs found in {}", root.display());
}
