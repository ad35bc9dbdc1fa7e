//! The generator of the bad-input corpus `tests/bad/`: every file is made
//! here from a description of what is wrong with it, so the corpus can be
//! re-made (`cargo test --release --test bad_corpus -- --ignored regenerate`)
//! and each file's recipe is readable. The files themselves are committed;
//! `tests/bad/cases.toml` says what each must produce.

use super::{gzip, idx_header, idx_images, idx_labels, read_mnist_prefix, Part, IMAGES_MAGIC, LABELS_MAGIC};
use chiffre::model::{preset, save, ModelSpec, Sequential};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::Cursor;

/// One file of the corpus: its path under `tests/bad/` and its bytes.
pub type BadFile = (&'static str, Vec<u8>);

/// Every file of the corpus.
pub fn corpus() -> Vec<BadFile> {
    [idx_files(), model_files(), spec_files(), image_files(), http_files()].concat()
}

fn idx_files() -> Vec<BadFile> {
    let images = idx_images(&read_mnist_prefix(Part::TrainImages, 100));
    let labels = idx_labels(&read_mnist_prefix(Part::TestLabels, 100));
    let mut wrong_magic = images.clone();
    wrong_magic[..4].copy_from_slice(&IMAGES_MAGIC.to_le_bytes());
    let mut float_type = images.clone();
    float_type[2] = 0x0D;
    let mut out_of_range = labels.clone();
    out_of_range[8 + 5] = 200;
    let mut corrupt_gzip = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];
    corrupt_gzip.extend(b"not a deflate stream, just garbage bytes; ".iter().cycle().take(400));
    let gz = gzip(&images);
    // A header that says 100 labels, then 64 MiB of zeros that compress to almost nothing.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &labels).unwrap();
    std::io::Write::write_all(&mut bomb, &vec![0u8; 64 << 20]).unwrap();
    vec![
        ("idx/truncated-images", images[..5000].to_vec()),
        ("idx/wrong-magic", wrong_magic),
        ("idx/float-type", float_type),
        ("idx/huge-dimensions", [idx_header(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX]), vec![0; 64]].concat()),
        // 65535 × 256 × 128 bytes = 2 GiB declared (just under the limit), 100 present.
        ("idx/gigabytes-declared", [idx_header(IMAGES_MAGIC, &[65535, 256, 128]), vec![7; 100]].concat()),
        ("idx/zero-length", Vec::new()),
        ("idx/corrupt-gzip.gz", corrupt_gzip),
        ("idx/cut-gzip.gz", gz[..gz.len() / 2].to_vec()),
        ("idx/labels-as-images", labels.clone()),
        ("idx/99-labels-for-100-images", idx_labels(&labels[8..107])),
        ("idx/trailing-bytes", [labels.clone(), b"extra".to_vec()].concat()),
        ("idx/200-dimensions", vec![0, 0, 8, 200, 0, 0, 0, 1]),
        ("idx/html-page", b"<!DOCTYPE html><html><body>404 Not Found</body></html>".to_vec()),
        ("idx/label-200", out_of_range),
        ("idx/gzip-bomb.gz", bomb.finish().unwrap()),
        ("idx/zero-by-zero-images", idx_header(IMAGES_MAGIC, &[100, 0, 0])),
        ("idx/labels-magic-only", idx_header(LABELS_MAGIC, &[]).to_vec()),
    ]
}

/// The tensors and metadata of a safetensors file, to be rewritten.
struct Parts {
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    metadata: HashMap<String, String>,
}

fn parts_of(bytes: &[u8]) -> Parts {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Parts { tensors, metadata: header.metadata().clone().unwrap_or_default() }
}

fn bytes_of(parts: &Parts) -> Vec<u8> {
    let views = parts.tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, &Some(parts.metadata.clone())).unwrap()
}

/// A model file of `spec` with seeded random weights, as `chiffre train` writes it.
fn model_bytes(spec: &ModelSpec) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let training = serde_json::json!({"test_accuracy": 0.5, "note": "bad-input corpus"});
    save(&Sequential::new(spec, 7).unwrap(), &training, &path).unwrap();
    std::fs::read(path).unwrap()
}

/// The perceptron's file changed by `f`.
fn edited(f: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut parts = parts_of(&model_bytes(&preset("perceptron", 10).unwrap()));
    f(&mut parts);
    bytes_of(&parts)
}

fn tensor<'a>(parts: &'a mut Parts, name: &str) -> &'a mut (String, Dtype, Vec<usize>, Vec<u8>) {
    parts.tensors.iter_mut().find(|t| t.0 == name).unwrap()
}

fn model_files() -> Vec<BadFile> {
    let good = model_bytes(&preset("perceptron", 10).unwrap());
    let mut colour = preset("perceptron", 10).unwrap();
    colour.input = [32, 32, 3];
    let mut huge_header = good.clone();
    huge_header[..8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let mut lcg = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (lcg >> 56) as u8
        })
        .collect();
    let huge_dense =
        r#"{"name":"huge","input":[28,28,1],"layers":[{"type":"flatten"},{"type":"dense","units":1000000000000}]}"#;
    vec![
        (
            "model/nan-weight.safetensors",
            edited(|p| tensor(p, "layers.1.weight").3[40..44].copy_from_slice(&f32::NAN.to_le_bytes())),
        ),
        (
            "model/infinite-bias.safetensors",
            edited(|p| tensor(p, "layers.1.bias").3[..4].copy_from_slice(&f32::INFINITY.to_le_bytes())),
        ),
        ("model/missing-tensor.safetensors", edited(|p| p.tensors.retain(|t| t.0 != "layers.1.bias"))),
        (
            "model/extra-tensor.safetensors",
            edited(|p| p.tensors.push(("layers.7.weight".into(), Dtype::F32, vec![2], vec![0; 8]))),
        ),
        (
            "model/wrong-shape.safetensors",
            edited(|p| {
                let w = tensor(p, "layers.1.weight");
                w.2 = vec![5, 5];
                w.3.truncate(25 * 4);
            }),
        ),
        (
            "model/f16-weights.safetensors",
            edited(|p| {
                let w = tensor(p, "layers.1.weight");
                w.1 = Dtype::F16;
                w.2 = vec![10, 784 * 2];
            }),
        ),
        ("model/other-architecture.safetensors", model_bytes(&colour)),
        ("model/truncated.safetensors", good[..good.len() / 2].to_vec()),
        ("model/huge-header.safetensors", huge_header),
        ("model/zero-length.safetensors", Vec::new()),
        ("model/random-bytes.safetensors", random),
        ("model/not-chiffre.safetensors", edited(|p| p.metadata.clear())),
        (
            "model/future-version.safetensors",
            edited(|p| {
                p.metadata.insert("chiffre.format".into(), "99".into());
            }),
        ),
        (
            "model/broken-architecture.safetensors",
            edited(|p| {
                p.metadata.insert("chiffre.spec".into(), "{\"layers\": [".into());
            }),
        ),
        (
            "model/huge-declared-layer.safetensors",
            edited(|p| {
                p.metadata.insert("chiffre.spec".into(), huge_dense.into());
            }),
        ),
    ]
}

fn spec_files() -> Vec<BadFile> {
    let text = |s: &str| s.as_bytes().to_vec();
    vec![
        ("spec/malformed.json", text(r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}"#)),
        ("spec/unknown-layer.json", text(r#"{"layers": [{"type": "flatten"}, {"type": "transformer", "units": 10}]}"#)),
        ("spec/pool-too-large.json", text(r#"{"layers": [{"type": "relu"}, {"type": "max_pool2d", "size": 64}, {"type": "flatten"}, {"type": "dense", "units": 10}]}"#)),
        ("spec/dense-on-image.toml", text("[[layers]]\ntype = \"relu\"\n\n[[layers]]\ntype = \"dense\"\nunits = 10\n")),
        ("spec/huge-dense.json", text(r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 1000000000000}]}"#)),
        ("spec/huge-input.toml", text("input = [100000, 100000, 3]\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 10\n")),
        ("spec/not-utf8.json", vec![b'{', 0xff, 0xfe, b'}']),
        ("spec/zero-filters.toml", text("[[layers]]\ntype = \"conv2d\"\nfilters = 0\nkernel = 3\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 10\n")),
        ("spec/no-layers.toml", text("name = \"nothing\"\n")),
        ("spec/no-scores.json", text(r#"{"layers": [{"type": "relu"}]}"#)),
        ("spec/dropout-rate.json", text(r#"{"layers": [{"type": "flatten"}, {"type": "dropout", "rate": 1.5}, {"type": "dense", "units": 10}]}"#)),
        ("spec/seven-classes.json", text(r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 7}]}"#)),
    ]
}

fn png(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
    out
}

/// A real PNG whose header says `width`×`height` (IHDR patched, CRC fixed).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(&DynamicImage::ImageLuma8(GrayImage::new(4, 4)));
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

/// A dark digit-like stroke on white paper, 64×64.
fn stroke() -> DynamicImage {
    DynamicImage::ImageLuma8(GrayImage::from_fn(64, 64, |x, y| {
        Luma([if (28..36).contains(&x) && (10..54).contains(&y) { 20 } else { 235 }])
    }))
}

fn image_files() -> Vec<BadFile> {
    let good = png(&stroke());
    let mut jpeg = Vec::new();
    stroke().write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
    vec![
        ("image/not-an-image.png", b"this is a text file, not a picture\n".to_vec()),
        ("image/zero-length.png", Vec::new()),
        ("image/truncated.png", good[..good.len() / 2].to_vec()),
        ("image/truncated.jpg", jpeg[..jpeg.len() / 3].to_vec()),
        ("image/huge-dimensions.png", png_claiming(20_000, 20_000)),
        ("image/zero-by-zero.png", png_claiming(0, 0)),
        ("image/one-pixel.png", png(&DynamicImage::ImageLuma8(GrayImage::new(1, 1)))),
        ("image/blank.png", png(&DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 48, Luma([180]))))),
    ]
}

fn http_files() -> Vec<BadFile> {
    let good = png(&stroke());
    vec![
        ("http/empty-body.bin", Vec::new()),
        ("http/text-body.bin", b"digit=7".to_vec()),
        ("http/truncated-png.bin", good[..good.len() / 3].to_vec()),
        ("http/huge-dimensions.bin", png_claiming(30_000, 30_000)),
        ("http/json-783-pixels.json", serde_json::to_vec(&serde_json::json!({"pixels": vec![0.0; 783]})).unwrap()),
        ("http/json-nan-pixels.json", b"{\"pixels\": [NaN]}".to_vec()),
        ("http/json-not-closed.json", b"{\"pixels\": [0.0, 0.5".to_vec()),
        ("http/json-pixel-above-one.json", serde_json::to_vec(&serde_json::json!({"pixels": vec![1.5; 784]})).unwrap()),
        ("http/form-body.txt", b"digit=7&confidence=1".to_vec()),
    ]
}
