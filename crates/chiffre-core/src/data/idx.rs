//! Reading IDX files (the format MNIST ships in), gzipped or raw.
//!
//! Decoding streams: the header is read and checked first, and the data is
//! read through a [`Read::take`] limited to the size the header declares (plus
//! one byte to detect trailing garbage), so neither a lying header nor a gzip
//! bomb can make the reader allocate more than [`MAX_DATA_BYTES`].

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{shape, DataError};

/// The largest number of dimensions accepted in an IDX header.
pub const MAX_DIMS: usize = 8;
/// The largest data section accepted (2 GiB), checked before allocating.
pub const MAX_DATA_BYTES: usize = 1 << 31;
/// IDX type code of unsigned bytes, the only type supported.
pub const TYPE_U8: u8 = 0x08;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Initial buffer size when the input size is unknown (gzip): grows beyond.
const INITIAL_CAPACITY: u64 = 64 << 20;
/// Trailing bytes are counted up to this many, then reported as "at least".
const TRAILING_COUNT_CAP: u64 = 64 << 20;

/// A decoded IDX array of unsigned bytes (type code 0x08), row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The dimensions formatted as `a×b×c`, as used in error messages.
    pub fn shape(&self) -> String {
        shape(&self.dims)
    }
}

/// Reads an IDX file, gzipped (detected by the 1f 8b magic bytes, not the file name) or raw.
///
/// # Errors
///
/// Any [`DataError`] about the file: unreadable, corrupt gzip, empty, bad
/// magic number, unsupported type, bad dimensions, too large, truncated, or
/// with trailing bytes. Every message names `path`.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let io_err = |source| DataError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 2];
    let got = read_full(&mut reader, &mut magic).map_err(io_err)?;
    let head = magic.get(..got).unwrap_or(&[]).to_vec();
    let reader = Cursor::new(head).chain(reader);
    if got == 2 && magic == GZIP_MAGIC {
        decode(MultiGzDecoder::new(reader), path, None, true)
    } else {
        decode(reader, path, Some(file_len), false)
    }
}

/// Parses IDX bytes (already decompressed); `source` names the file in errors.
///
/// # Errors
///
/// As [`read_idx`], except that gzip data is rejected as a bad magic number.
pub fn parse_idx(bytes: &[u8], source: &Path) -> Result<IdxArray, DataError> {
    decode(bytes, source, Some(bytes.len() as u64), false)
}

/// Parses an IDX file held in memory, gzipped (by its magic bytes) or raw:
/// what [`read_idx`] does with a file's bytes. `source` names it in errors.
///
/// # Errors
///
/// As [`read_idx`].
pub fn idx_from_bytes(bytes: &[u8], source: &Path) -> Result<IdxArray, DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        decode(MultiGzDecoder::new(bytes), source, None, true)
    } else {
        parse_idx(bytes, source)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Decodes one IDX stream. `size_hint` bounds the first allocation;
/// `gzipped` selects how read errors are reported.
fn decode<R: Read>(mut r: R, path: &Path, size_hint: Option<u64>, gzipped: bool) -> Result<IdxArray, DataError> {
    let err = |source| {
        let path = path.to_path_buf();
        if gzipped {
            DataError::Gzip { path, source }
        } else {
            DataError::Io { path, source }
        }
    };
    let mut magic = [0u8; 4];
    let got = read_full(&mut r, &mut magic).map_err(err)?;
    let found = magic.get(..got).unwrap_or(&[]);
    if got == 0 {
        fail!(path, Empty, gzipped);
    }
    if found.iter().take(2).any(|&b| b != 0) {
        fail!(path, BadMagic, found: found.to_vec());
    }
    if got < 4 {
        fail!(path, TruncatedHeader, expected: 4, found: got);
    }
    let [_, _, code, ndims] = magic;
    if code != TYPE_U8 {
        fail!(path, UnsupportedType, code);
    }
    let rank = usize::from(ndims);
    if rank == 0 || rank > MAX_DIMS {
        fail!(path, BadDimCount, ndims, max: MAX_DIMS);
    }

    let mut raw_dims = Vec::with_capacity(rank);
    for k in 0..rank {
        let mut b = [0u8; 4];
        let got = read_full(&mut r, &mut b).map_err(err)?;
        if got < 4 {
            fail!(path, TruncatedHeader, expected: 4 + 4 * rank, found: 4 + 4 * k + got);
        }
        raw_dims.push(u64::from(u32::from_be_bytes(b)));
    }

    // Size checks, before any allocation. A zero dimension means no data.
    let shape: Vec<String> = raw_dims.iter().map(ToString::to_string).collect();
    let shape = shape.join("×");
    let total =
        if raw_dims.contains(&0) { Some(0) } else { raw_dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)) };
    let total = total.filter(|&t| t <= MAX_DATA_BYTES as u64);
    let expected = total.and_then(|t| usize::try_from(t).ok());
    let dims: Option<Vec<usize>> = raw_dims.iter().map(|&d| usize::try_from(d).ok()).collect();
    let (Some(total), Some(expected), Some(dims)) = (total, expected, dims) else {
        fail!(path, TooLarge, shape, limit: MAX_DATA_BYTES);
    };

    // Never allocate more than the input can hold (when known) or a modest
    // initial amount (gzip); the buffer grows only as real bytes arrive, and
    // `take` stops reading one byte past the declared size.
    let limit = total + 1;
    let capacity = limit.min(size_hint.unwrap_or(INITIAL_CAPACITY));
    let mut data = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    (&mut r).take(limit).read_to_end(&mut data).map_err(err)?;

    if data.len() < expected {
        fail!(path, Truncated, shape, expected, found: data.len());
    }
    if data.len() > expected {
        let mut rest = (&mut r).take(TRAILING_COUNT_CAP);
        let more = io::copy(&mut rest, &mut io::sink()).map_err(err)?;
        let at_least = more == TRAILING_COUNT_CAP;
        fail!(path, TrailingBytes, shape, expected, extra: 1 + more, at_least);
    }
    Ok(IdxArray { dims, data })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::tests::err_has;
    use flate2::{write::GzEncoder, Compression};
    use proptest::{collection::vec, num::u8::ANY, prop_assert_eq, prop_assert_ne};
    use std::io::Write;
    use std::path::PathBuf;

    /// A valid u8 IDX file with the given dims and data.
    pub(crate) fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, TYPE_U8, dims.len() as u8];
        dims.iter().for_each(|d| v.extend_from_slice(&d.to_be_bytes()));
        v.extend_from_slice(data);
        v
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Writes `bytes` to `name` in a fresh temp dir; returns (dir guard, path).
    fn write_tmp(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// Reads `bytes` stored as file `name`; checks the error names the file.
    fn file_err(name: &str, bytes: &[u8], parts: &[&str]) -> String {
        let (_dir, path) = write_tmp(name, bytes);
        let msg = err_has(read_idx(&path), parts);
        assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
        msg
    }

    /// Parses `bytes` as file `x/f.idx`; checks the error names the file.
    fn parse_err(bytes: &[u8], parts: &[&str]) -> String {
        let msg = err_has(parse_idx(bytes, Path::new("x/f.idx")), parts);
        assert!(msg.starts_with("x/f.idx: "), "{msg}");
        msg
    }

    fn sample() -> Vec<u8> {
        idx_bytes(&[3, 2, 2], &(0..12).collect::<Vec<u8>>())
    }

    #[test]
    fn parses_valid_idx() {
        let a = parse_idx(&sample(), Path::new("s")).unwrap();
        assert_eq!((a.dims, a.data), (vec![3, 2, 2], (0..12).collect()));
        let empty = parse_idx(&idx_bytes(&[0, 28, 28], &[]), Path::new("s")).unwrap();
        assert_eq!((empty.shape(), empty.data.len()), ("0×28×28".to_owned(), 0));
    }

    #[test]
    fn reads_gzipped_and_raw_files_by_content_not_name() {
        let want = parse_idx(&sample(), Path::new("s")).unwrap();
        // Gzipped content under a raw-looking name, and raw under a .gz name.
        let (_d1, gz) = write_tmp("images-idx3-ubyte", &gzip(&sample()));
        let (_d2, raw) = write_tmp("images-idx3-ubyte.gz", &sample());
        assert_eq!(read_idx(&gz).unwrap(), want);
        assert_eq!(read_idx(&raw).unwrap(), want);
        // Concatenated gzip members are one stream.
        let whole = sample();
        let (a, b) = whole.split_at(7);
        let (_d3, multi) = write_tmp("multi.gz", &[gzip(a), gzip(b)].concat());
        assert_eq!(read_idx(&multi).unwrap(), want);
    }

    #[test]
    fn truncated_data() {
        let mut b = idx_bytes(&[60000, 28, 28], &[7; 1000]);
        let msg = parse_err(&b, &[]);
        let want = "truncated IDX file: header says 60000×28×28 = 47040000 bytes of data, found 1000";
        assert_eq!(msg, format!("x/f.idx: {want}"));
        b.truncate(16);
        parse_err(&b, &["found 0"]);
        parse_err(&idx_bytes(&[10], &[1]), &["header says 10 bytes of data, found 1"]);
        file_err("t.gz", &gzip(&sample()[..20]), &["3×2×2 = 12 bytes of data, found 4"]);
    }

    #[test]
    fn truncated_header() {
        parse_err(&[0, 0, 8], &["truncated IDX file: the header needs 4 bytes, found only 3"]);
        parse_err(&sample()[..9], &["header needs 16 bytes, found only 9"]);
    }

    #[test]
    fn bad_magic() {
        parse_err(b"hello world", &["not an IDX file", "[68 65 6c 6c]", "00 00 <type>"]);
        parse_err(&gzip(&sample()), &["[1f 8b 08 00]", "this is gzip data"]);
        parse_err(&[0, 7], &["not an IDX file", "[00 07]"]);
        file_err("page.html", b"<html>", &["looks like HTML"]);
    }

    #[test]
    fn unsupported_type() {
        let mut b = sample();
        b[2] = 0x0D;
        parse_err(&b, &["0x0d (32-bit float)", "only unsigned-byte IDX files (type 0x08)"]);
        b[2] = 0x42;
        parse_err(&b, &["0x42 (unknown type)", "only unsigned-byte"]);
    }

    #[test]
    fn bad_number_of_dims() {
        parse_err(&[0, 0, 8, 0], &["declares 0 dimensions; expected between 1 and 8"]);
        parse_err(&[0, 0, 8, 200, 1, 2, 3], &["declares 200 dimensions"]);
    }

    #[test]
    fn oversized_dims_are_refused_before_allocating() {
        let huge = idx_bytes(&[u32::MAX; 8], &[]);
        parse_err(&huge, &["4294967295×", "more than the limit of 2147483648 bytes"]);
        parse_err(&idx_bytes(&[65536, 65536], &[1, 2]), &["65536×65536 array"]);
        // A zero dimension makes an empty array whatever the others say.
        let a = parse_idx(&idx_bytes(&[u32::MAX, 0], &[]), Path::new("z")).unwrap();
        assert!(a.data.is_empty());
        // Exactly at the limit is allowed by the header; here it is truncated.
        parse_err(&idx_bytes(&[1 << 31], &[]), &["2147483648 bytes of data, found 0"]);
        file_err("big", &idx_bytes(&[1 << 31], &[]), &["found 0"]);
    }

    #[test]
    fn trailing_bytes() {
        let b = [sample(), vec![1, 2, 3]].concat();
        parse_err(&b, &["3 unexpected extra byte(s) after the 12 bytes of data"]);
        file_err("tail.gz", &gzip(&b), &["3 unexpected extra byte(s)"]);
    }

    #[test]
    fn gzip_bomb_is_cut_off() {
        // Header says 12 bytes; the stream inflates to 80 MiB more.
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(&sample()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        (0..80).for_each(|_| e.write_all(&zeros).unwrap());
        let bomb = e.finish().unwrap();
        file_err("bomb.gz", &bomb, &["at least 67108865 unexpected extra byte(s)"]);
    }

    #[test]
    fn corrupt_gzip() {
        let mut gz = gzip(&idx_bytes(&[100], &[9; 100]));
        let n = gz.len();
        gz[n - 8] ^= 0xff; // damage the CRC
        file_err("crc.gz", &gz, &["cannot decompress gzip data", "damaged"]);
        let junk = [0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        file_err("junk.gz", &junk, &["cannot decompress gzip data"]);
        let gz = gzip(&sample());
        file_err("cut.gz", &gz[..gz.len() / 2], &["cannot decompress gzip data"]);
    }

    #[test]
    fn empty_files() {
        file_err("empty", &[], &["file is empty; expected an IDX file"]);
        file_err("e.gz", &gzip(&[]), &["file is empty (after gzip decompression)"]);
        parse_err(&[], &["file is empty"]);
    }

    #[test]
    fn unreadable_paths_are_named() {
        let missing = read_idx(Path::new("no/such/file.gz"));
        err_has(missing, &["no/such/file.gz: cannot read file"]);
        let dir = tempfile::tempdir().unwrap();
        err_has(read_idx(dir.path()), &[&dir.path().display().to_string()]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(ANY, 0..64)) {
            let _ = parse_idx(&bytes, Path::new("p"));
        }

        #[test]
        fn valid_header_arbitrary_body(dims in vec(0u32..6, 1..4), body in vec(ANY, 0..200)) {
            let want: usize = dims.iter().map(|&d| d as usize).product();
            match parse_idx(&idx_bytes(&dims, &body), Path::new("p")) {
                Ok(a) => prop_assert_eq!(a.data, body),
                Err(_) => prop_assert_ne!(body.len(), want),
            }
        }

        #[test]
        fn arbitrary_gzip_files_never_panic(bytes in vec(ANY, 0..64)) {
            let _ = file_err_or_ok([&[0x1f, 0x8b][..], &bytes].concat());
        }
    }

    fn file_err_or_ok(bytes: Vec<u8>) -> Result<IdxArray, DataError> {
        let (_dir, path) = write_tmp("p.gz", &bytes);
        read_idx(&path)
    }
}
