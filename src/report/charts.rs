//! The report's charts, drawn as SVG with `plotters`: training curves, the
//! confusion heat map, per-class precision and recall, probabilities, and
//! the reliability diagram of the calibration.
//!
//! SVG keeps text as text (the browser's own sans-serif font, nothing
//! loaded from the network) and stays sharp at any zoom.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor;

/// Colours of the series, in order (colour-blind safe: Okabe–Ito).
pub const SERIES: [RGBColor; 4] =
    [RGBColor(0, 114, 178), RGBColor(213, 94, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167)];

/// A chart with numbers on both axes, drawn into an SVG string.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Errors drawing a chart are bugs in the chart code, not user errors:
/// they are reported as text rather than panics.
pub type ChartResult = Result<String, String>;

fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw chart: {e}")
}

/// One line of a line chart: its name and its points.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// A line chart of `series` (markers on every point), with axis labels.
pub fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> ChartResult {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if !x0.is_finite() || !y0.is_finite() {
        return Err("no points to draw".into());
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    let (x0, x1) = if x1 > x0 { (x0 - 0.2, x1 + 0.2) } else { (x0 - 1.0, x1 + 1.0) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { String::new() })
            .y_label_formatter(&|y| format!("{y:.3}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let colour = SERIES[i % SERIES.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(err)?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The series' legend in a framed box at `position`.
fn draw_legend<'a>(chart: &mut Chart<'a, 'a>, position: SeriesLabelPosition) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(err)
}

/// The confusion matrix as a heat map: row = true class, column =
/// predicted class, each cell with its count; colour grows with the count
/// (on a square-root scale, so that small confusions stay visible).
pub fn confusion(counts: &[Vec<u64>]) -> ChartResult {
    let k = counts.len();
    let off_max = (0..k)
        .flat_map(|t| (0..k).filter(move |&p| p != t).map(move |p| (t, p)))
        .fold(0, |m, (t, p)| m.max(counts[t][p]));
    let diag_max = (0..k).map(|t| counts[t][t]).max().unwrap_or(0);
    let size = 60 + 44 * k as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size + 40, size + 40)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Confusion matrix (test set)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..k as f64 - 0.5, -0.5..k as f64 - 0.5)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k + 1)
            .y_labels(k + 1)
            .x_label_formatter(&|x| centre_label(*x, k, false))
            .y_label_formatter(&|y| centre_label(*y, k, true))
            .x_desc("predicted digit")
            .y_desc("true digit")
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        let cells = (0..k).flat_map(|t| (0..k).map(move |p| (t, p)));
        let area: &DrawingArea<SVGBackend, Cartesian2d<RangedCoordf64, RangedCoordf64>> = chart.plotting_area();
        for (t, p) in cells {
            let n = counts[t][p];
            let (x, y) = (p as f64 - 0.5, (k - 1 - t) as f64 - 0.5);
            let colour = if t == p {
                let a = if diag_max > 0 { (n as f64 / diag_max as f64).sqrt() } else { 0.0 };
                RGBColor(255 - (200.0 * a) as u8, 255 - (80.0 * a) as u8, 255 - (150.0 * a) as u8)
            } else {
                let a = if off_max > 0 && n > 0 { 0.15 + 0.85 * (n as f64 / off_max as f64).sqrt() } else { 0.0 };
                RGBColor(255, 255 - (200.0 * a) as u8, 255 - (220.0 * a) as u8)
            };
            area.draw(&Rectangle::new([(x, y), (x + 1.0, y + 1.0)], colour.filled())).map_err(err)?;
            area.draw(&Rectangle::new([(x, y), (x + 1.0, y + 1.0)], WHITE.stroke_width(1))).map_err(err)?;
            if n > 0 {
                let style = TextStyle::from(("sans-serif", 13).into_font())
                    .pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Center))
                    .color(&BLACK);
                area.draw(&Text::new(n.to_string(), (x + 0.5, y + 0.5), style)).map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Class `c` spans `c - 0.5 .. c + 0.5` on a class axis, so that the
/// axis' round numbers fall on cell centres; labels elsewhere stay empty.
fn centre_label(v: f64, k: usize, flipped: bool) -> String {
    if (v - v.round()).abs() > 1e-6 || v < -1e-6 || v > k as f64 - 1.0 + 1e-6 {
        return String::new();
    }
    let c = v.round() as usize;
    (if flipped { k - 1 - c } else { c }).to_string()
}

/// Bars for each class, several values per class (for example precision
/// and recall), between `y0` and `y1`.
pub fn grouped_bars(title: &str, y_desc: &str, names: &[&str], values: &[Vec<f64>], y0: f64, y1: f64) -> ChartResult {
    let k = values.first().map_or(0, Vec::len);
    let groups = values.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (60 + 48 * k as u32 + 60, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..k as f64 - 0.5, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k + 1)
            .x_label_formatter(&|x| centre_label(*x, k, false))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_desc("class")
            .y_desc(y_desc)
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        for (g, row) in values.iter().enumerate() {
            let colour = SERIES[g % SERIES.len()];
            let w = 0.8 / groups;
            chart
                .draw_series(row.iter().enumerate().map(|(c, &v)| {
                    let x = c as f64 - 0.4 + g as f64 * w;
                    Rectangle::new([(x, y0), (x + w * 0.92, v.max(y0))], colour.filled())
                }))
                .map_err(err)?
                .label(names.get(g).copied().unwrap_or(""))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The ten probabilities as bars, the predicted class highlighted, each
/// bar labelled with its percentage.
pub fn probabilities(title: &str, probs: &[f32]) -> ChartResult {
    let k = probs.len();
    let best = probs.iter().enumerate().fold(0, |b, (i, &p)| if p > probs[b] { i } else { b });
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (60 + 40 * k as u32, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(-0.5..k as f64 - 0.5, 0f64..1.12)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k + 1)
            .y_labels(6)
            .x_label_formatter(&|x| centre_label(*x, k, false))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_desc("digit")
            .y_desc("probability")
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        let area = chart.plotting_area();
        for (c, &p) in probs.iter().enumerate() {
            let colour = if c == best { SERIES[1] } else { SERIES[0] };
            let x = c as f64 - 0.5;
            area.draw(&Rectangle::new([(x + 0.15, 0.0), (x + 0.85, p as f64)], colour.filled())).map_err(err)?;
            if p >= 0.005 {
                let style = TextStyle::from(("sans-serif", 10).into_font())
                    .pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Bottom))
                    .color(&BLACK);
                let label = format!("{:.0}%", 100.0 * p);
                area.draw(&Text::new(label, (x + 0.5, p as f64 + 0.02), style)).map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A reliability diagram: for each series (for example before and after
/// calibration) the accuracy of each confidence bin against the bin's mean
/// confidence, and the diagonal where the two are equal. Both axes span 0–1.
pub fn reliability(title: &str, series: &[Series]) -> ChartResult {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1.0, 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("confidence (mean of the bin)")
            .y_desc("accuracy (of the bin)")
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        let grey = BLACK.mix(0.45);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], grey.stroke_width(1)))
            .map_err(err)?
            .label("perfectly calibrated")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey.stroke_width(1)));
        for (i, s) in series.iter().enumerate() {
            let colour = SERIES[i % SERIES.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(err)?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_text() {
        let s =
            lines("Loss", "epoch", "loss", &[Series { name: "train", points: vec![(1.0, 0.5), (2.0, 0.2)] }]).unwrap();
        assert!(s.starts_with("<svg") && s.contains("Loss") && s.contains("epoch") && s.contains("train"), "{s}");
        let counts: Vec<Vec<u64>> =
            (0..3).map(|t| (0..3).map(|p| if t == p { 50 } else { t as u64 }).collect()).collect();
        let c = confusion(&counts).unwrap();
        assert!(c.contains("\n50\n") && c.contains("predicted digit") && c.contains("true digit"));
        let p = probabilities("Read as 2", &[0.1, 0.0, 0.9]).unwrap();
        assert!(p.contains("\n90%\n") && p.contains("\n10%\n"));
        let b = grouped_bars("P/R", "score", &["precision", "recall"], &[vec![0.9, 1.0], vec![0.95, 0.97]], 0.8, 1.0);
        assert!(b.unwrap().contains("recall"));
        assert!(lines("empty", "x", "y", &[]).is_err());
        let r = reliability("Calibration", &[Series { name: "before, ECE 2 %", points: vec![(0.55, 0.5)] }]).unwrap();
        assert!(r.contains("before, ECE 2 %") && r.contains("perfectly calibrated") && r.contains("confidence"));
    }

    #[test]
    fn centre_labels_name_the_cells() {
        assert_eq!(centre_label(0.0, 10, false), "0");
        assert_eq!(centre_label(9.0, 10, false), "9");
        assert_eq!(centre_label(0.0, 10, true), "9");
        assert_eq!(centre_label(1.5, 10, false), "");
        assert_eq!(centre_label(10.0, 10, false), "");
    }
}
