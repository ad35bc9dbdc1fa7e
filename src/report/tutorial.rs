//! The report's section on the tutorial's worked example (see
//! [`crate::tutorial`]): the "X", its features, feature maps, ReLU, pooling
//! and flattening, drawn and printed; then what a tiny CNN learns.

use super::html::{esc, figure, legend};
use super::pictures::{self, Scale};
use super::{Out, ReportError};
use crate::tutorial::{self, Grid, WorkedExample};
use std::fmt::Write;

/// −1 black, +1 white: a perfect match (1.00) is white.
const SCALE: Scale = Scale::Gray { lo: -1.0, hi: 1.0 };

fn cell(out: &mut Out, name: &str, grid: &Grid, zoom: usize, scale: Scale) -> Result<String, ReportError> {
    let src = out.png(name, &pictures::map(&grid.values, grid.cols, grid.rows, zoom, scale))?;
    Ok(format!("<img src=\"{src}\" alt=\"{}\"><pre>{}</pre>", esc(name), esc(&grid.format())))
}

fn example(out: &mut Out, tag: &str, title: &str, ex: &WorkedExample) -> Result<String, ReportError> {
    let mut s = format!("<h3>{}</h3>\n", esc(title));
    s.push_str(&format!(
        "<div class=\"layer\">{}</div>\n",
        cell(out, &format!("tut-{tag}-image.png"), &ex.image, 14, SCALE)?
    ));
    s.push_str("<div class=\"wide\"><table class=\"worked\">\n<thead><tr><th>feature</th><th>feature map</th><th>ReLU</th><th>2×2 max-pooling</th></tr></thead>\n<tbody>\n");
    for (i, (name, feature)) in ex.features.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            cell(out, &format!("tut-{tag}-f{i}.png"), feature, 20, SCALE)?,
            cell(out, &format!("tut-{tag}-map{i}.png"), &ex.maps[i], 12, SCALE)?,
            cell(out, &format!("tut-{tag}-relu{i}.png"), &ex.relu[i], 12, SCALE)?,
            cell(out, &format!("tut-{tag}-pool{i}.png"), &ex.pooled[i], 12, SCALE)?
        );
    }
    s.push_str("</tbody>\n</table></div>\n");
    let src = out.png(&format!("tut-{tag}-flat.png"), &pictures::strip(&ex.flat, SCALE))?;
    let values: Vec<String> = ex.flat.iter().map(|v| format!("{:.2}", v + 0.0)).collect();
    s.push_str(&figure(
        &src,
        "flattened vector",
        &format!(
            "Flattened: {} values, ready for a fully-connected layer (channels last: the three pooled maps interleave).<pre>{}</pre>",
            ex.flat.len(),
            values.join(" ")
        ),
    ));
    Ok(s)
}

pub(super) fn tutorial_section(out: &mut Out) -> Result<String, ReportError> {
    let mut s = String::from(
        "<section id=\"tutorial\">\n<h2>The tutorial's worked example: finding an X</h2>\n<p>A 9×9 black-and-white \
         image (+1 ink, −1 background) and three 3×3 features cut from it. Each feature slides over the image; at \
         each place the feature map holds the mean of the products of the feature and the pixels under it, so a \
         perfect match gives 1.00 and a perfect mismatch −1.00. ReLU turns the negatives to 0; 2×2 max-pooling \
         keeps the largest value of each window (those that stick out at the border keep what they cover), and \
         flattening lines the pooled maps up. Computed by chiffre's own layers; also printed by \
         <code>chiffre tutorial</code>.</p>\n",
    );
    s.push_str(&legend(&SCALE));
    s.push_str(&example(out, "x", "The X", &tutorial::worked_example(&tutorial::x_image()))?);
    s.push_str(&example(
        out,
        "x2",
        "The same X drawn a little differently: the features still find their pieces",
        &tutorial::worked_example(&tutorial::x_variant()),
    )?);

    let learned = tutorial::train_x_or_o(1);
    let _ = write!(
        s,
        "<h3>Learning the features instead: X or O?</h3>\n<p>A tiny CNN with the same layers (3 filters 3×3 → ReLU → \
         2×2 max-pooling → flatten → 2 outputs) trained on 400 shifted, rotated, scaled and thickened X's and O's \
         reads {:.0} % of {} fresh ones right (training loss {:.3} → {:.3}). Its filters, next to the hand-made \
         ones:</p>\n",
        100.0 * learned.accuracy,
        learned.tested,
        learned.loss.0,
        learned.loss.1
    );
    let hand: Vec<Vec<f32>> = tutorial::features().into_iter().map(|(_, g)| g.values).collect();
    let mine: Vec<Vec<f32>> = learned.filters.iter().map(|g| g.values.clone()).collect();
    let hand_scale = Scale::signed_of(&hand.concat());
    let src = out.png("tut-hand-filters.png", &pictures::mosaic(&hand, 3, 3, 3, 20, hand_scale))?;
    s.push_str(&figure(&src, "hand-made features", "Hand-made: \\ diagonal, centre cross, / diagonal."));
    s.push_str(&legend(&hand_scale));
    let learned_scale = Scale::signed_of(&mine.concat());
    let src = out.png("tut-learned-filters.png", &pictures::mosaic(&mine, 3, 3, 3, 20, learned_scale))?;
    s.push_str(&figure(&src, "learned filters", "Learned (red positive, blue negative weights)."));
    s.push_str(&legend(&learned_scale));
    s.push_str("</section>\n");
    Ok(s)
}
