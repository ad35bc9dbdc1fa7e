//! The IDX reader, raw or gzipped: any bytes give an array or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = chiffre::data::idx_from_bytes(data, Path::new("fuzz.idx")) {
        // A zero dimension makes an empty array whatever the others say (their product may overflow).
        let declared = match array.dims.contains(&0) {
            true => Some(0),
            false => array.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)),
        };
        assert_eq!(Some(array.data.len()), declared, "an accepted array holds what its header declares");
    }
});
