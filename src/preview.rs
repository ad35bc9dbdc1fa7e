//! Pictures in the terminal: a small grayscale image as Unicode half
//! blocks, two pixel rows per text line, in a frame.

/// Values at or above this are drawn as ink.
const INK: f32 = 0.35;

/// The `width×height` row-major image `values` (0 background, 1 ink) as
/// text lines: `▀` upper pixel inked, `▄` lower, `█` both, space neither;
/// framed so that the image's edges show.
pub fn half_blocks(values: &[f32], width: usize, height: usize) -> Vec<String> {
    let ink = |x: usize, y: usize| y < height && values.get(y * width + x).is_some_and(|&v| v >= INK);
    let mut lines = vec![format!("┌{}┐", "─".repeat(width))];
    for y in (0..height).step_by(2) {
        let row: String = (0..width)
            .map(|x| match (ink(x, y), ink(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            })
            .collect();
        lines.push(format!("│{row}│"));
    }
    lines.push(format!("└{}┘", "─".repeat(width)));
    lines
}

/// `left` and `right` side by side, `left`'s lines padded to the same width.
pub fn beside(left: &[String], right: &[String], gap: usize) -> String {
    let width = left.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rows = left.len().max(right.len());
    let mut out = String::new();
    for i in 0..rows {
        let l = left.get(i).map_or("", String::as_str);
        let r = right.get(i).map_or("", String::as_str);
        let pad = width - l.chars().count() + gap;
        out.push_str(format!("{l}{}{r}", " ".repeat(pad)).trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rows_per_line_in_a_frame() {
        // 3×3: a vertical bar in the middle column, and one dot bottom-left.
        let v = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let lines = half_blocks(&v, 3, 3);
        assert_eq!(lines, vec!["┌───┐", "│ █ │", "│▀▀ │", "└───┘"]);
    }

    #[test]
    fn text_goes_beside_the_picture() {
        let out = beside(&["ab".into(), "c".into()], &["x".into()], 1);
        assert_eq!(out, "ab x\nc\n");
    }
}
