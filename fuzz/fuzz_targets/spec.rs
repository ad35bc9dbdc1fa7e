//! The spec parser and network builder: any text gives a network or an
//! error (never a panic, never an allocation beyond the limits); a network
//! that builds runs one forward pass when it is small.
#![no_main]

use chiffre::layers::Mode;
use chiffre::model::{ModelSpec, Sequential};
use chiffre::tensor::Tensor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the syntax, as a file extension would.
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let ext = ["json", "toml", ""][usize::from(which % 3)];
    let Ok(spec) = ModelSpec::parse(text, ext) else { return };
    if let Ok(mut model) = Sequential::new(&spec, 0) {
        if model.forward_macs() < 1 << 20 && spec.input.iter().product::<usize>() < 1 << 16 {
            let x = Tensor::zeros(&[&[1][..], &spec.input[..]].concat());
            let classes = model.num_classes();
            assert_eq!(model.forward(&x, Mode::Eval).shape(), &[1, classes]);
        }
    }
});
