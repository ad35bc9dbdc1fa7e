//! The tutorial's worked example for the page, computed by the engine
//! ([`chiffre_core::tutorial`]): the 9×9 X (or its variant, or an O), the
//! three features, their feature maps, ReLU, 2×2 max-pooling and flattening;
//! and the tiny CNN that learns X against O. Answers are JSON.

use chiffre_core::tutorial::{draw, features, train_x_or_o, worked_example, x_image, x_variant, Grid, Shape, Variant};
use serde_json::{json, Value};

/// A grid as JSON: `{"rows", "cols", "values"}`.
fn grid(g: &Grid) -> Value {
    json!({ "rows": g.rows, "cols": g.cols, "values": g.values })
}

/// The worked example on picture `which` (0: the tutorial's X, 1: an X drawn
/// a little differently, 2: an O), as JSON: `image`, `features` (each
/// `name` and `grid`; the map is the mean of the products under the window),
/// `maps`, `relu`, `pooled` (one grid per feature) and `flat`.
pub fn example(which: usize) -> Result<String, String> {
    let image = match which {
        0 => x_image(),
        1 => x_variant(),
        2 => draw(Shape::O, 9, Variant::default()),
        _ => return Err(format!("picture {which}: expected 0 (X), 1 (another X) or 2 (O)")),
    };
    let w = worked_example(&image);
    let names: Vec<Value> = features().iter().map(|(name, g)| json!({ "name": name, "grid": grid(g) })).collect();
    let grids = |gs: &[Grid]| gs.iter().map(grid).collect::<Vec<_>>();
    Ok(json!({
        "image": grid(&w.image),
        "features": names,
        "maps": grids(&w.maps),
        "relu": grids(&w.relu),
        "pooled": grids(&w.pooled),
        "flat": w.flat,
    })
    .to_string())
}

/// The tiny CNN learning X against O from `seed`, as JSON: `accuracy` on
/// `tested` fresh shapes, its learned `filters` (grids), and the mean
/// training `loss` of the first and last epochs.
pub fn x_or_o(seed: u64) -> String {
    let r = train_x_or_o(seed);
    json!({
        "accuracy": r.accuracy,
        "tested": r.tested,
        "filters": r.filters.iter().map(grid).collect::<Vec<_>>(),
        "loss": [r.loss.0, r.loss.1],
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_x_gives_the_tutorials_numbers() {
        let v: Value = serde_json::from_str(&example(0).unwrap()).unwrap();
        assert_eq!(v["image"]["rows"], 9);
        assert_eq!(v["features"].as_array().unwrap().len(), 3);
        // The first feature (the diagonal \) matches the X perfectly at row 1, column 1 of its map.
        let map = &v["maps"][0];
        assert_eq!(map["rows"], 7);
        assert!((map["values"][8].as_f64().unwrap() - 1.0).abs() < 1e-6, "{map}");
        assert_eq!(v["flat"].as_array().unwrap().len(), 4 * 4 * 3);
        assert!(example(2).is_ok() && example(3).unwrap_err().contains("expected 0"));
    }

    #[test]
    fn the_tiny_cnn_learns_x_against_o() {
        let v: Value = serde_json::from_str(&x_or_o(1)).unwrap();
        assert!(v["accuracy"].as_f64().unwrap() > 0.9, "{v}");
        assert_eq!(v["filters"].as_array().unwrap().len(), 3);
    }
}
