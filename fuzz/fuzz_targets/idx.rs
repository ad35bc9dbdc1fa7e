//! The IDX reader, raw or gzipped: any bytes give an array or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = chiffre::data::idx_from_bytes(data, Path::new("fuzz.idx")) {
        let declared = array.dims.iter().product::<usize>();
        assert_eq!(array.data.len(), declared, "an accepted array holds what its header declares");
    }
});
