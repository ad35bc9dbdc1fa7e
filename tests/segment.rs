//! Segmentation never panics and keeps its promises, whatever the ink:
//! random masks give marks inside the picture, lines left to right, at most
//! `MAX_MARKS` marks; too many marks is a clear error; numbers drawn as
//! blocks are found in order, with their points, minus signs and lines.

use chiffre::preprocess::{Bounds, Gray, Pixels};
use chiffre::reading::{read_picture, read_picture_with_pairs, PAIRED_OWN_WEIGHT};
use chiffre::reject::pairs::{NOT_A_PAIR, PAIR_CLASSES, PAIR_COLS, PAIR_PIXELS, PAIR_ROWS};
use chiffre::segment::{segment, segment_with_pairs, Mark, Scored, SegmentError, MAX_MARKS};
use chiffre::Prediction;
use image::{DynamicImage, GrayImage, Luma};
use proptest::prelude::*;

/// A stand-in network: every input is a 1, half sure.
fn reader(inputs: &[Pixels]) -> Vec<Scored> {
    inputs.iter().map(|_| Scored { log_whole: 0.5f32.ln(), not_a_digit: 0.0 }).collect()
}

fn bounds_of(mark: &Mark) -> Bounds {
    match mark {
        Mark::Digit { bounds, .. } | Mark::Separator { bounds, .. } => *bounds,
    }
}

/// Ink from rectangles `(x, y, w, h)` on a `w`×`h` picture.
fn blocks(width: usize, height: usize, rects: &[(usize, usize, usize, usize)]) -> Gray {
    Gray::from_fn(width, height, |x, y| {
        f32::from(u8::from(
            rects.iter().any(|&(rx, ry, rw, rh)| (rx..rx + rw).contains(&x) && (ry..ry + rh).contains(&y)),
        ))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_ink_gives_marks_inside_the_picture_in_reading_order(
        width in 8usize..160,
        height in 8usize..120,
        rects in prop::collection::vec((0usize..160, 0usize..120, 1usize..40, 1usize..60), 0..30),
        noise in prop::collection::vec((0usize..160, 0usize..120), 0..200),
    ) {
        let mut ink = blocks(width, height, &rects);
        for (x, y) in noise {
            if x < width && y < height {
                ink.data_mut()[y * width + x] = 0.7;
            }
        }
        // Also with a pair reader that reads everything as the pair 31.
        let mut pairs = |inputs: &[&[f32]]| -> Vec<f32> {
            let mut rows = vec![0.0; inputs.len() * PAIR_CLASSES];
            rows.chunks_exact_mut(PAIR_CLASSES).for_each(|row| row[31] = 1.0);
            rows
        };
        let with_pairs = segment_with_pairs(&ink, &mut reader, &mut pairs).expect("fewer marks than the limit");
        let lines = segment(&ink, &mut reader).expect("fewer marks than the limit");
        for lines in [lines, with_pairs] {
        let marks: usize = lines.iter().map(Vec::len).sum();
        prop_assert!(marks <= MAX_MARKS);
        for line in &lines {
            prop_assert!(!line.is_empty());
            let mut last_centre = f32::NEG_INFINITY;
            for mark in line {
                let b = bounds_of(mark);
                prop_assert!(b.x0 < b.x1 && b.x1 <= width && b.y0 < b.y1 && b.y1 <= height, "{b:?} in {width}×{height}");
                let centre = (b.x0 + b.x1) as f32 / 2.0;
                prop_assert!(centre + 1.0 >= last_centre, "marks out of order: {centre} after {last_centre}");
                last_centre = last_centre.max(centre);
                if let Mark::Digit { pixels, .. } = mark {
                    prop_assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
                }
            }
        }
        }
    }
}

#[test]
fn too_many_marks_is_a_clear_error() {
    // A page of 30 × 20 dots: 600 marks.
    let rects: Vec<_> = (0..30).flat_map(|i| (0..20).map(move |j| (4 + 10 * i, 4 + 10 * j, 4, 4))).collect();
    let ink = blocks(310, 210, &rects);
    let err = segment(&ink, &mut reader).unwrap_err();
    assert_eq!(err, SegmentError::TooManyMarks { found: 600 });
    assert!(err.to_string().contains("at most 256"), "{err}");
}

#[test]
fn a_number_of_blocks_is_found_in_order_with_its_point_and_minus() {
    // "-1.1 1" as blocks 40 tall: a minus, a bar, a point on the baseline, two bars.
    let rects = [(10, 28, 16, 5), (40, 10, 8, 40), (62, 44, 6, 6), (80, 10, 8, 40), (130, 12, 8, 40)];
    let lines = segment(&blocks(160, 60, &rects), &mut reader).unwrap();
    assert_eq!(lines.len(), 1);
    let kinds: Vec<String> = lines[0]
        .iter()
        .map(|m| match m {
            Mark::Digit { .. } => "d".to_string(),
            Mark::Separator { separator, .. } => separator.symbol().to_string(),
        })
        .collect();
    assert_eq!(kinds, vec!["-", "d", ".", "d", "d"]);
}

#[test]
fn two_lines_are_read_top_to_bottom() {
    let rects = [(10, 70, 8, 40), (40, 72, 8, 40), (10, 10, 8, 40), (40, 8, 8, 40), (70, 10, 8, 40)];
    let lines = segment(&blocks(100, 120, &rects), &mut reader).unwrap();
    assert_eq!(lines.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2]);
    assert!(bounds_of(&lines[0][0]).y0 < bounds_of(&lines[1][0]).y0);
}

#[test]
fn a_picture_is_read_with_boxes_in_its_own_pixels() {
    // 2400 pixels wide: shrunk to 1024 to work, boxes scaled back.
    let paper = GrayImage::from_fn(2400, 600, |x, y| {
        let ink = (100..500).contains(&y) && ((300..360).contains(&x) || (1500..1560).contains(&x));
        Luma([if ink { 10 } else { 240 }])
    });
    let mut read =
        |inputs: &[Pixels]| inputs.iter().map(|_| Prediction::from_logits(&[0.0, 1.0])).collect::<Result<Vec<_>, _>>();
    let reading = read_picture(&DynamicImage::ImageLuma8(paper), &mut read, 0.5).unwrap();
    let boxes: Vec<[u32; 4]> = reading.digits().map(|d| d.bounds).collect();
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    for (b, x) in boxes.iter().zip([300, 1500]) {
        assert!(b[0].abs_diff(x) <= 3 && b[1].abs_diff(100) <= 3, "{b:?}");
        assert!(b[2].abs_diff(60) <= 4 && b[3].abs_diff(400) <= 4, "{b:?}");
    }
    assert_eq!(reading.text(), "11");
}

/// A component wide enough to be cut that the network reads surely as one
/// digit is not cut: no part of it is read, and it is one mark; read
/// unsurely, it is cut and its parts are tried.
#[test]
fn a_wide_component_read_surely_as_one_digit_is_not_cut() {
    // A "U" 60 pixels wide and 50 tall (1.2 line heights: wide enough to be cut, with a clear
    // valley in the middle), then two digits apart.
    let ink =
        blocks(200, 80, &[(10, 15, 25, 50), (45, 15, 25, 50), (10, 60, 60, 5), (100, 15, 20, 50), (140, 15, 20, 50)]);
    let run = |log_probability: f32| {
        let mut asked = 0;
        let mut read = |inputs: &[Pixels]| {
            asked += inputs.len();
            inputs.iter().map(|_| Scored { log_whole: log_probability, not_a_digit: 0.0 }).collect()
        };
        let lines = segment(&ink, &mut read).expect("three marks");
        let boxes: Vec<Bounds> = lines.iter().flatten().map(bounds_of).collect();
        (asked, boxes)
    };
    let (sure, boxes) = run(0.99f32.ln());
    let (unsure, _) = run(0.5f32.ln());
    assert!(sure < unsure, "read surely: {sure} inputs; unsurely (the U cut into parts): {unsure}");
    assert_eq!(boxes.len(), 3, "{boxes:?}");
    assert_eq!((boxes[0].x0, boxes[0].x1), (10, 70), "the U whole: {boxes:?}");
}

/// A pair read whole is parted along the path that crosses the least ink,
/// not down its middle: a wide 0 joined to a narrow 1 gives the 0 its whole
/// ring and the 1 its bar alone.
#[test]
fn a_pair_read_whole_is_parted_where_its_digits_meet() {
    // A 0 (a ring 40 wide) joined at the foot to a 1 (a bar 6 wide), and a digit apart.
    let paper = GrayImage::from_fn(200, 80, |x, y| {
        let (dx, dy) = (x as f32 - 30.0, y as f32 - 40.0);
        let r = (dx * dx / (20.0 * 20.0) + dy * dy / (25.0 * 25.0)).sqrt();
        let ring = (0.8..=1.0).contains(&r);
        let bar = (60..66).contains(&x) && (15..65).contains(&y);
        let join = (45..66).contains(&x) && (58..63).contains(&y);
        let apart = (100..120).contains(&x) && (15..65).contains(&y);
        Luma([if ring || bar || join || apart { 10 } else { 240 }])
    });
    let picture = DynamicImage::ImageLuma8(paper);
    // Every input a 1, unsurely (so no cut reads better than the pair).
    let mut read = |inputs: &[Pixels]| {
        inputs.iter().map(|_| Prediction::from_logits(&[0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])).collect()
    };
    // The widest input of a call (the whole blob) is the pair 01; the
    // narrower ones (its parts) are not pairs.
    let mut pairs = |inputs: &[&[f32]]| -> Vec<f32> {
        let inked =
            |input: &[f32]| (0..PAIR_COLS).filter(|&x| (0..PAIR_ROWS).any(|y| input[y * PAIR_COLS + x] > 0.0)).count();
        let widest = inputs.iter().map(|i| inked(i)).max().unwrap_or(0);
        let mut rows = vec![0.0; inputs.len() * PAIR_CLASSES];
        for (row, input) in rows.chunks_exact_mut(PAIR_CLASSES).zip(inputs) {
            if inked(input) == widest {
                (row[1], row[NOT_A_PAIR]) = (0.95, 0.05);
            } else {
                row[NOT_A_PAIR] = 1.0;
            }
        }
        rows
    };
    let reading = read_picture_with_pairs(&picture, &mut read, Some(&mut pairs), 0.5).unwrap();
    assert_eq!(reading.text(), "011");
    let digits: Vec<_> = reading.digits().collect();
    let (zero, one) = (digits[0].bounds, digits[1].bounds);
    // Down the blob's middle (x = 38) would cut the ring (x 10..50) in two.
    assert!(zero[0] <= 11 && zero[0] + zero[2] >= 49, "the 0's box holds its ring: {zero:?}");
    // The 1's box: its bar, and at most the bit of foot that joins the ring.
    assert!(one[0] >= 44 && one[0] + one[2] <= 67, "the 1's box holds its bar: {one:?}");
}

/// Two digits run together that the pair reader reads surely, and the digit
/// reader unsurely in every cut: one blob, two digits, each with its own
/// probabilities (the pair reader's, summed over the other digit, times the
/// digit reader's weighed by [`PAIRED_OWN_WEIGHT`]); the blob alone beside
/// another digit is offered to the pair reader, the digit apart is not.
#[test]
fn a_blob_the_pair_reader_reads_surely_is_two_digits() {
    // The "U" of the test above (cut: read unsurely), then a digit apart.
    let paper = GrayImage::from_fn(200, 80, |x, y| {
        let u = ((10..35).contains(&x) || (45..70).contains(&x)) && (15..65).contains(&y)
            || (10..70).contains(&x) && (60..65).contains(&y);
        let bar = (100..120).contains(&x) && (15..65).contains(&y);
        Luma([if u || bar { 10 } else { 240 }])
    });
    let picture = DynamicImage::ImageLuma8(paper);
    let mut read = |inputs: &[Pixels]| {
        // Every input a 1, at a probability of 0.105 (e^-2.26).
        inputs.iter().map(|_| Prediction::from_logits(&[0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])).collect()
    };
    let mut widths = Vec::new();
    // Every input is the pair 31 (probability 0.85: e^-0.16, less PAIR_COST 2
    // still above the U read as one digit) or 38 (0.1).
    let mut pairs = |inputs: &[&[f32]]| -> Vec<f32> {
        widths.extend(inputs.iter().map(|i| i.len()));
        let mut rows = vec![0.0; inputs.len() * PAIR_CLASSES];
        for row in rows.chunks_exact_mut(PAIR_CLASSES) {
            (row[31], row[38], row[NOT_A_PAIR]) = (0.85, 0.1, 0.05);
        }
        rows
    };
    let reading = read_picture_with_pairs(&picture, &mut read, Some(&mut pairs), 0.5).unwrap();
    assert_eq!(reading.text(), "311");
    let digits: Vec<_> = reading.digits().collect();
    assert!((digits[0].prediction.probabilities[3] - 1.0).abs() < 1e-5, "{:?}", digits[0].prediction);
    let right = &digits[1].prediction;
    // The digit reader's 1 (e^0.05 against 1 for every other class) tips the
    // pair reader's 0.85 against 0.1 a little further.
    let (one, eight) = (0.85 * 0.05f32.exp().powf(PAIRED_OWN_WEIGHT), 0.1);
    let expected = |p: f32| p / (one + eight);
    assert!(
        (right.probabilities[1] - expected(one)).abs() < 1e-5
            && (right.probabilities[8] - expected(eight)).abs() < 1e-5,
        "{right:?}"
    );
    assert!(right.probabilities[1] > 0.85 / 0.95, "the digit reader's 1 counts");
    assert!((right.digit_probability - 0.95).abs() < 1e-5);
    // The two halves of the blob, side by side, inside it.
    let (l, r) = (digits[0].bounds, digits[1].bounds);
    assert!(l[0] >= 9 && l[0] + l[2] <= r[0] + 1 && r[0] + r[2] <= 71, "{l:?} {r:?}");
    assert!(!widths.is_empty() && widths.iter().all(|&w| w == PAIR_PIXELS));
    // Without the pair reader, the same picture is read as before.
    let plain = read_picture(&picture, &mut read, 0.5).unwrap();
    assert_ne!(plain.text(), "311");
}

/// A blob the digit reader reads best cut in two is cut; the pair reader's
/// reading of the whole blob goes with each part (its side of the pair), for
/// the digit reader's reading to join; a digit apart gets none.
#[test]
fn the_two_parts_of_a_blob_cut_in_two_carry_the_pair_readers_reading() {
    // A thick "U" (60 wide, 50 tall), then a bar apart.
    let ink = blocks(200, 80, &[(10, 15, 25, 50), (45, 15, 25, 50), (10, 60, 60, 5), (100, 15, 20, 50)]);
    // Narrow inputs (a half of the U, the bar) read surely as digits; the U whole, not.
    let mut read = |inputs: &[Pixels]| -> Vec<Scored> {
        inputs
            .iter()
            .map(|input| {
                let columns = (0..28).filter(|&x| (0..28).any(|y| input[y * 28 + x] > 0.1)).count();
                Scored { log_whole: if columns <= 15 { 0.99f32 } else { 0.01 }.ln(), not_a_digit: 0.0 }
            })
            .collect()
    };
    // Everything is the pair 31 (not surely enough to beat two sure digits).
    let mut asked = 0;
    let mut pairs = |inputs: &[&[f32]]| -> Vec<f32> {
        asked += inputs.len();
        let mut rows = vec![0.0; inputs.len() * PAIR_CLASSES];
        for row in rows.chunks_exact_mut(PAIR_CLASSES) {
            (row[31], row[38], row[NOT_A_PAIR]) = (0.8, 0.15, 0.05);
        }
        rows
    };
    let lines = segment_with_pairs(&ink, &mut read, &mut pairs).unwrap();
    assert!(asked > 0);
    let marks = &lines[0];
    assert_eq!(marks.len(), 3, "{:?}", marks.iter().map(bounds_of).collect::<Vec<_>>());
    let hint_of = |mark: &Mark| match mark {
        Mark::Digit { paired: None, hint, .. } => hint.as_deref().copied(),
        other => panic!("a digit the digit reader reads, not {other:?}"),
    };
    let (left, right) = (hint_of(&marks[0]).expect("the U's left part"), hint_of(&marks[1]).expect("its right"));
    assert!((left[3] - 0.95 / 0.95).abs() < 1e-5, "{left:?}");
    assert!((right[1] - 0.8 / 0.95).abs() < 1e-5 && (right[8] - 0.15 / 0.95).abs() < 1e-5, "{right:?}");
    assert_eq!(hint_of(&marks[2]), None, "the bar apart was not cut");
}
