//! The model-file loader: any bytes give a model or an error; a model that
//! loads runs one forward pass when it is small.
#![no_main]

use chiffre::layers::Mode;
use chiffre::tensor::Tensor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut file) = chiffre::model::load_bytes(data, "fuzz.safetensors") {
        let model = &mut file.model;
        if model.forward_macs() < 1 << 20 {
            let x = Tensor::zeros(&[&[1][..], &model.input_shape()[..]].concat());
            let classes = model.num_classes();
            assert_eq!(model.forward(&x, Mode::Eval).shape(), &[1, classes]);
        }
    }
});
