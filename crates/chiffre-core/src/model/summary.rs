//! A Keras-style summary table: layer, output shape, parameters, total.

use super::Sequential;
use crate::layers::Layer;

/// Formats `n` with thousands separators: `93322` → `"93,322"`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table `chiffre summary` prints.
pub fn summary(model: &Sequential) -> String {
    let spec = model.spec();
    let mut rows = vec![("Layer (type)".to_string(), "Output Shape".to_string(), "Param #".to_string())];
    let shape = |s: &[usize]| format!("(None, {})", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    rows.push(("input".to_string(), shape(&spec.input), "0".to_string()));
    for (i, layer) in model.layers().iter().enumerate() {
        let params: usize = layer.params().iter().map(|(_, p)| p.value.len()).sum();
        rows.push((format!("{i}: {}", layer.kind()), shape(layer.output_shape()), thousands(params)));
    }
    let widths = rows.iter().fold([0; 3], |w, r| [w[0].max(r.0.len()), w[1].max(r.1.len()), w[2].max(r.2.len())]);
    let rule = "─".repeat(widths[0] + widths[1] + widths[2] + 6);
    let mut out = format!("Model: \"{}\"\n{rule}\n", spec.name);
    for (n, (a, b, c)) in rows.iter().enumerate() {
        out += &format!(" {a:<w0$}  {b:<w1$}  {c:>w2$}\n", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        if n == 0 {
            out += &format!("{rule}\n");
        }
    }
    out += &format!("{rule}\n");
    out += &format!("Total params: {}\n", thousands(model.num_params()));
    out +=
        &format!("Output: {} class scores; softmax is applied by the loss and by prediction.\n", model.num_classes());
    out
}
