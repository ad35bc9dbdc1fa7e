//! Finding the digits of a number in a picture: which marks there are, how
//! they form lines, which belong together, which touch and must be cut, and
//! which are a decimal point or a minus sign. Works on the cleaned ink of
//! [`crate::preprocess`] (bright ink on black, background exactly 0), in the
//! picture's working pixels; each digit found is normalised MNIST-style by
//! [`normalise_digit`], exactly as a single-digit picture is.
//!
//! The steps, each a small function of its own module:
//! 1. [`connected_components`]: 8-connected pieces of ink; specks (smaller
//!    than [`SPECK`] of the digit height on both sides) dropped;
//! 2. [`merge_pieces`]: components of one digit put together (a 5's top bar,
//!    a 4 in two strokes, a broken stroke), by horizontal overlap and size
//!    relative to the digit height ([`typical_height`]);
//! 3. [`find_lines`]: lines, top to bottom, each left to right, slanted ones
//!    included;
//! 4. [`classify`]: decimal points and minus signs;
//! 5. [`candidate_cuts`], [`path_valleys`] and [`separating_path`]: a
//!    component too wide for one digit, unless the network reads it surely
//!    as one ([`SURE_WHOLE`]) and the pair reader does not read it surely
//!    as two ([`SURE_PAIR`]), is cut into parts along the gaps where digits
//!    may touch (and finer parts, where a cut may move to); the picture's
//!    only mark is cut when it reads doubtfully whole ([`ALONE_DOUBT`]),
//!    and no component the judges call a letter is ([`LETTER`]);
//! 6. [`best_groups`]: the components and parts of a line are grouped into
//!    digits the way the network reads them best.
//!
//! A picture with more than [`MAX_MARKS`] marks (a page of text, a photo of
//! gravel) is refused before any step whose work grows faster than the
//! number of marks.

mod atoms;
mod components;
mod cut_pairs;
mod cutting;
pub mod garbage;
mod group;
mod lines;
mod may_win;
mod merge;
mod pairing;
mod paths;
mod separators;
mod split;
pub mod tried;

pub use components::{connected_components, Component, Components};
pub use cut_pairs::{CUT_DOUBT, CUT_DOUBT_WIDEST, WHOLE_DOUBT};
use cutting::{read_as_pair, stays_whole};
pub use cutting::{
    ALONE_CUT_COST, ALONE_DOUBT, ALONE_MOST_NOT_A_PAIR, BESIDE_MOST_NOT_A_PAIR, LETTER, LETTER_WIDE, SURE_PAIR,
    SURE_PAIR_WIDE, SURE_WHOLE, WIDE, WIDE_ALONE,
};
pub use group::{best_grouping, best_groups, render, Atom, Group, GroupReader, PairGroupReader, MAX_ATOMS, WIDE_WHOLE};
pub use lines::{find_lines, typical_height, Line};
pub use may_win::Trying;
pub use merge::{merge_pieces, same_digit};
pub use pairing::{MOST_NOT_A_PAIR, PAIR_COST};
pub use paths::{path_valleys, separating_path, Patch, Path, PathCosts};
pub use separators::{classify, Separator};
pub use split::{candidate_cuts, Profile, MAX_CANDIDATES};

use crate::preprocess::{
    normalise_digit, place_by_centre_of_mass, scale_to_box, to_pixels, Bounds, Gray, Pixels, BOX, SIDE,
};
use crate::reject::pairs::{digit_marginals, pair_input, NOT_A_PAIR, PAIR_CLASSES};

/// The most marks (pieces of ink, after specks are dropped) read in one picture.
pub const MAX_MARKS: usize = 256;
/// Pieces of ink smaller than this fraction of the digit height on both
/// sides are specks.
pub const SPECK: f32 = 0.06;
/// A mark smaller than this fraction of the line height on both sides, that
/// is no separator, is a stray mark, not a digit.
const STRAY: f32 = 0.3;

/// What the network and its judges make of one 28×28 input, as segmentation
/// weighs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// The log-probability that it is one whole digit: the log of its
    /// class's probability plus that of the judges' "one whole digit".
    pub log_whole: f32,
    /// The judges' probability that it is no digit at all (a letter, a
    /// symbol), rather than a digit or digits cut wrong; 0 without judges
    /// ([`crate::Prediction::not_a_digit_probability`]).
    pub not_a_digit: f32,
}

/// The network, as segmentation sees it: each 28×28 input [`Scored`].
pub type Reader<'a> = dyn FnMut(&[Pixels]) -> Vec<Scored> + 'a;

/// Told of the groups of ink that segmentation tries as digits, a run of
/// marks at a time: where each is (working pixels) and its ink in that box,
/// and the 28×28 input it is scored on (`None`: no ink, not scored).
/// [`segment_observed`] calls it; [`tried`] learns from it. (A generic
/// parameter rather than a `dyn`: [`segment`]'s observer, which does
/// nothing, then compiles to nothing, and the WebAssembly module, at its size
/// limit, does not grow.)
pub trait Observer: FnMut(&[(Bounds, Gray)], &[Option<Pixels>]) {}
impl<F: FnMut(&[(Bounds, Gray)], &[Option<Pixels>])> Observer for F {}

/// Errors of segmentation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SegmentError {
    /// Too many separate marks to be a number.
    #[error(
        "the picture holds {found} separate marks; chiffre reads at most {MAX_MARKS} in one picture \
         (is it a page of text or a photo of a texture?)"
    )]
    TooManyMarks {
        /// How many were found.
        found: usize,
    },
}

/// Components read as one mark: their indices in [`Components::list`], their
/// bounding box and their ink pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// Indices of its components.
    pub components: Vec<usize>,
    /// The bounding box of all of them.
    pub bounds: Bounds,
    /// Ink pixels.
    pub area: usize,
    /// Sum of its ink values (0-1 each).
    pub mass: f32,
}

impl Piece {
    /// A piece of one component.
    pub fn of(index: usize, component: &Component) -> Self {
        Piece { components: vec![index], bounds: component.bounds, area: component.area, mass: component.mass }
    }

    /// Adds a component.
    pub fn add(&mut self, index: usize, component: &Component) {
        self.components.push(index);
        self.bounds = merge::union(self.bounds, component.bounds);
        self.area += component.area;
        self.mass += component.mass;
    }

    /// The centre of its bounding box (x, y).
    pub fn centre(&self) -> (f32, f32) {
        ((self.bounds.x0 + self.bounds.x1) as f32 / 2.0, (self.bounds.y0 + self.bounds.y1) as f32 / 2.0)
    }
}

/// One mark of a number, found in the picture.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// Something to read as a digit: where it is (working pixels) and its
    /// MNIST-style 28×28 input.
    Digit {
        /// Its ink's bounding box.
        bounds: Bounds,
        /// The network input.
        pixels: Box<Pixels>,
        /// Read already, with its neighbour, by the pair reader (`None`: to
        /// be read by the digit reader).
        paired: Option<Box<PairedDigit>>,
        /// For a digit cut from a blob that held it and one neighbour: the
        /// pair reader's reading of it in that blob (its probabilities,
        /// summed over the neighbour's), which the digit reader's joins.
        hint: Option<Box<[f32; 10]>>,
    },
    /// A decimal point or a minus sign.
    Separator {
        /// Which.
        separator: Separator,
        /// Where.
        bounds: Bounds,
    },
}

/// A digit read with its neighbour by the pair reader (two digits run
/// together, which no cut separates: see [`crate::reject::pairs`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PairedDigit {
    /// This digit's probabilities, summed over its neighbour's.
    pub probabilities: [f32; 10],
    /// The probability that the blob is two whole digits.
    pub pair_probability: f32,
}

/// The pair reader, as segmentation sees it: for each input
/// ([`crate::reject::pairs::pair_input`]), its [`PAIR_CLASSES`] probabilities,
/// one row after another.
pub type PairInputReader<'a> = dyn FnMut(&[&[f32]]) -> Vec<f32> + 'a;

/// [`normalise_digit`] without its stroke correction: the 28×28 input of a
/// group that is only tried as a digit. The correction (a disc dilation or
/// erosion at 8× resolution) costs more than the rest of the reading
/// together, and the network's choice between groupings does not need it;
/// the digits kept are normalised in full.
fn normalise_for_scoring(digit: &Gray) -> Option<Pixels> {
    place_by_centre_of_mass(&scale_to_box(digit, BOX), SIDE).map(|framed| to_pixels(&framed))
}

/// The digit marks of `pieces` (neighbours in a line, no separator between
/// them): their components' atoms grouped as the network reads them best
/// (see [`best_groups`]); components wider than `wide` line heights are
/// tried cut, each group that cuts one costing `cut_cost`; `trying`: which
/// groups are read ([`Trying`]). `read` gives the
/// log-probability that each input is one digit; `read_pairs`, when there
/// is one, the pair reader's probabilities ([`best_grouping`]).
fn digits_of(
    ink: &Gray,
    components: &Components,
    pieces: &[&Piece],
    line_height: f32,
    (wide, cut_cost, trying, alone): (f32, f32, Trying, bool),
    (read, mut read_pairs): (&mut Reader<'_>, Option<&mut PairInputReader<'_>>),
    observe: &mut impl Observer,
) -> Vec<Mark> {
    let indices: Vec<(usize, usize)> =
        pieces.iter().enumerate().flat_map(|(k, p)| p.components.iter().map(move |&c| (c, k))).collect();
    let mut sure = |patches: &[&Patch]| -> Vec<bool> {
        let inputs: Vec<Option<Pixels>> = patches.iter().map(|p| normalise_for_scoring(&p.ink)).collect();
        let ready: Vec<Pixels> = inputs.iter().flatten().copied().collect();
        let mut read_back = read(&ready).into_iter();
        let scores: Vec<Option<Scored>> = inputs.iter().map(|i| i.and_then(|_| read_back.next())).collect();
        patches
            .iter()
            .zip(scores)
            .map(|(patch, scored)| {
                let width = patch.width() as f32 / line_height;
                scored.is_some_and(|scored| {
                    stays_whole(scored, width, alone, |most| read_as_pair(read_pairs.as_deref_mut(), &patch.ink, most))
                })
            })
            .collect()
    };
    let mut atoms = atoms::line_atoms(ink, components, &indices, line_height, wide, &mut sure);
    let cut_readings = cut_pairs::read_cut_components(&atoms, read_pairs.as_deref_mut());
    cut_pairs::doubt_cuts(&mut atoms, &cut_readings, line_height);
    let as_mark = |(bounds, digit): (Bounds, Gray), hint: Option<[f32; 10]>| {
        normalise_digit(&digit).map(|pixels| Mark::Digit {
            bounds,
            pixels: Box::new(pixels),
            paired: None,
            hint: hint.map(Box::new),
        })
    };
    if atoms.is_empty() {
        return Vec::new();
    }
    if let [atom] = atoms.as_slice() {
        return as_mark((atom.bounds, atom.ink.clone()), None).into_iter().collect();
    }
    let mut read_groups = |groups: &[(Bounds, Gray)]| {
        let inputs: Vec<Option<Pixels>> = groups.iter().map(|(_, g)| normalise_for_scoring(g)).collect();
        observe(groups, &inputs);
        let ready: Vec<Pixels> = inputs.iter().flatten().copied().collect();
        let mut read_back = read(&ready).into_iter();
        inputs
            .iter()
            .map(|input| input.and_then(|_| read_back.next()).map_or(f32::NEG_INFINITY, |r| r.log_whole))
            .collect()
    };
    let has_pairs = read_pairs.is_some();
    let mut pair_groups = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        let inputs: Vec<Option<Vec<f32>>> = groups.iter().map(|(_, g)| pair_input(g)).collect();
        let ready: Vec<&[f32]> = inputs.iter().flatten().map(Vec::as_slice).collect();
        let Some(read_pairs) = read_pairs.as_mut() else { return Vec::new() };
        let answers = read_pairs(&ready);
        if answers.len() != ready.len() * PAIR_CLASSES {
            return Vec::new();
        }
        // A group without ink is surely not a pair.
        let mut rows = answers.chunks_exact(PAIR_CLASSES);
        let mut none = vec![0.0; PAIR_CLASSES];
        none[NOT_A_PAIR] = 1.0;
        inputs.iter().flat_map(|input| input.as_ref().and_then(|_| rows.next()).unwrap_or(&none).to_vec()).collect()
    };
    let groups = best_grouping(
        &atoms,
        line_height,
        cut_cost,
        &mut read_groups,
        if has_pairs { Some(&mut pair_groups) } else { None },
        trying,
    );
    let hints = cut_pairs::hints(&atoms, &groups, &cut_readings);
    let mut marks = Vec::with_capacity(groups.len() + 1);
    for (group, hint) in groups.into_iter().zip(hints) {
        let (bounds, ink) = render(&atoms[group.from..group.to]);
        match group.pair {
            None => marks.extend(as_mark((bounds, ink), hint)),
            Some(probabilities) => marks.extend(pair_marks(bounds, &ink, &probabilities)),
        }
    }
    marks
}

/// Each side of the path that parts a pair read whole ([`pair_marks`]) is at
/// least this fraction of the pair's height, or the pair is parted in halves.
const PAIR_SIDE_HEIGHT: f32 = 0.55;

/// The two digit marks of a blob read whole by the pair reader
/// (`probabilities`: its row), read as the pair reader read it: its ink
/// left and right of the path near its middle (within a quarter of its
/// width) that crosses the least ink ([`separating_path`]), so that where one
/// digit is wider than the other (a 1 beside a 0) each box still holds its
/// own digit; where the strokes overlap, the path crosses them. The blob's
/// two halves when the path leaves one side no ink, or ink less than
/// [`PAIR_SIDE_HEIGHT`] of the blob's height.
fn pair_marks(bounds: Bounds, ink: &Gray, probabilities: &[f32]) -> Vec<Mark> {
    let (left, right) = digit_marginals(probabilities);
    let pair_probability = 1.0 - probabilities[NOT_A_PAIR];
    let patch = Patch { bounds, ink: ink.clone() };
    let radius = (ink.width() / 4).max(1);
    let path = separating_path(&patch, bounds.x0 + ink.width() / 2, radius);
    let (left_edge, right_edge) = (patch.straight(bounds.x0), patch.straight(bounds.x1));
    // Each side a digit's height: a path that follows a stroke down (a 7's
    // stem) can leave one side only a bar.
    let tall = |b: &Bounds| b.height() as f32 >= PAIR_SIDE_HEIGHT * bounds.height() as f32;
    let sides = match [patch.between(&left_edge, &path), patch.between(&path, &right_edge)] {
        [Some(l), Some(r)] if tall(&l.0) && tall(&r.0) => [Some(l), Some(r)],
        _ => {
            let middle = patch.straight(bounds.x0 + ink.width() / 2);
            [patch.between(&left_edge, &middle), patch.between(&middle, &right_edge)]
        }
    };
    sides
        .into_iter()
        .zip([left, right])
        .filter_map(|(side, probabilities)| {
            let (bounds, digit) = side?;
            let pixels = normalise_digit(&digit)?;
            let paired = Some(Box::new(PairedDigit { probabilities, pair_probability }));
            Some(Mark::Digit { bounds, pixels: Box::new(pixels), paired, hint: None })
        })
        .collect()
}

/// A line's marks in reading order, by the centres of their boxes: the
/// atoms come by their components' centres, and a group of a wide
/// component's parts can lie left of a mark that came before it (a stroke
/// above the component). Integer keys, as in [`atoms::line_atoms`].
fn in_reading_order(marks: Vec<Mark>) -> Vec<Mark> {
    let n = marks.len();
    let centre = |m: &Mark| match m {
        Mark::Digit { bounds, .. } | Mark::Separator { bounds, .. } => bounds.x0 + bounds.x1,
    };
    let mut keys: Vec<usize> = marks.iter().enumerate().map(|(k, m)| centre(m) * n + k).collect();
    keys.sort_unstable();
    let mut slots: Vec<Option<Mark>> = marks.into_iter().map(Some).collect();
    keys.into_iter().filter_map(|key| slots[key % n].take()).collect()
}

/// Finds the marks of the number(s) in cleaned ink: lines top to bottom, each
/// a list of marks left to right. `read` is the network: for each 28×28
/// input, the digit read and the log-probability of that reading (used to
/// cut touching digits). Errors: [`SegmentError::TooManyMarks`].
pub fn segment(ink: &Gray, read: &mut Reader<'_>) -> Result<Vec<Vec<Mark>>, SegmentError> {
    segment_trying(ink, read, None, &mut |_, _| {}, Trying::MayWin)
}

/// [`segment`], with the pair reader: where two digits run together read
/// better whole, by `read_pairs`, than cut, they are read whole (their marks
/// then carry their reading, [`Mark::Digit`]'s `paired`).
pub fn segment_with_pairs(
    ink: &Gray,
    read: &mut Reader<'_>,
    read_pairs: &mut PairInputReader<'_>,
) -> Result<Vec<Vec<Mark>>, SegmentError> {
    segment_trying(ink, read, Some(read_pairs), &mut |_, _| {}, Trying::MayWin)
}

/// [`segment`] (with the pair reader `read_pairs`, if any), telling
/// `observe` of every group of ink it tries as a digit: every group that
/// could be one is tried ([`Trying::Every`]), not only those that may be in
/// the best grouping, as [`segment`] does.
pub fn segment_observed(
    ink: &Gray,
    read: &mut Reader<'_>,
    read_pairs: Option<&mut PairInputReader<'_>>,
    observe: &mut impl Observer,
) -> Result<Vec<Vec<Mark>>, SegmentError> {
    segment_trying(ink, read, read_pairs, observe, Trying::Every)
}

/// [`segment_observed`], reading the groups `trying` says.
fn segment_trying(
    ink: &Gray,
    read: &mut Reader<'_>,
    mut read_pairs: Option<&mut PairInputReader<'_>>,
    observe: &mut impl Observer,
    trying: Trying,
) -> Result<Vec<Vec<Mark>>, SegmentError> {
    let components = connected_components(ink);
    let height = typical_height(components.list.iter().map(|c| c.bounds.height()));
    let speck = SPECK * height;
    let kept: Vec<(usize, Component)> = components
        .list
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| c.bounds.width() as f32 >= speck || c.bounds.height() as f32 >= speck)
        .collect();
    if kept.len() > MAX_MARKS {
        return Err(SegmentError::TooManyMarks { found: kept.len() });
    }
    let list: Vec<Component> = kept.iter().map(|&(_, c)| c).collect();
    let pieces: Vec<Piece> = merge_pieces(&list, height)
        .into_iter()
        .map(|mut p| {
            p.components = p.components.iter().map(|&k| kept[k].0).collect();
            p
        })
        .collect();
    let (lines, _strays) = find_lines(pieces, height);
    let mut out = Vec::with_capacity(lines.len());
    // One digit-sized mark in the whole picture (specks and points aside).
    let bodies = lines.iter().flat_map(|l| &l.pieces).filter(|p| 2.0 * p.bounds.height() as f32 >= height).count();
    let alone = bodies == 1;
    for line in &lines {
        let is_body = |p: &Piece| 2.0 * p.bounds.height() as f32 >= line.height;
        // Alone, a mark from `WIDE` to `WIDE_ALONE` wide is cut only when doubtful (`stays_whole`).
        let wide = if alone { (WIDE, ALONE_CUT_COST, trying, true) } else { (WIDE, 0.0, trying, false) };
        let mut marks = Vec::new();
        // Pieces between two separators, read together.
        let mut run: Vec<&Piece> = Vec::new();
        for (k, piece) in line.pieces.iter().enumerate() {
            if !is_body(piece) {
                let before = line.pieces[..k].iter().any(is_body);
                let after = line.pieces[k + 1..].iter().any(is_body);
                if let Some(separator) = classify(piece, line, before && after, after && !before) {
                    marks.extend(digits_of(
                        ink,
                        &components,
                        &run,
                        line.height,
                        wide,
                        (read, read_pairs.as_deref_mut()),
                        observe,
                    ));
                    run.clear();
                    marks.push(Mark::Separator { separator, bounds: piece.bounds });
                    continue;
                }
                let side = piece.bounds.width().max(piece.bounds.height()) as f32;
                if side < STRAY * line.height {
                    continue;
                }
            }
            run.push(piece);
        }
        marks.extend(digits_of(ink, &components, &run, line.height, wide, (read, read_pairs.as_deref_mut()), observe));
        if marks.iter().any(|m| matches!(m, Mark::Digit { .. })) {
            out.push(in_reading_order(marks));
        }
    }
    Ok(out)
}
