//! "Inside, for one digit": every layer's output drawn as pictures, from
//! [`crate::Model::inspect`], and the first convolution's filters.

use super::charts;
use super::html::{esc, figure, legend};
use super::pictures::{self, Scale};
use super::{Analysed, Out, ReportError, TestSet};
use crate::layers::Layer;
use crate::model::{LayerOutput, Node};
use crate::predict::PredictError;
use crate::preprocess::Pixels;
use std::fmt::Write;

/// The digits to look inside with: the user's picture, or the first test
/// image of each class.
fn digits<'a>(own: Option<&'a Pixels>, test: &'a TestSet, classes: usize) -> Vec<(String, &'a Pixels)> {
    if let Some(p) = own {
        return vec![("your picture".into(), p)];
    }
    (0..classes)
        .filter_map(|c| test.labels.iter().position(|&l| l as usize == c))
        .map(|i| (format!("a {} (test image #{i})", test.labels[i]), &test.pixels[i]))
        .collect()
}

pub(super) fn inside_section(
    id: &str,
    m: &mut Analysed,
    own: Option<&Pixels>,
    test: &TestSet,
    out: &mut Out,
) -> Result<String, ReportError> {
    let mut s = format!(
        "<h3 id=\"{id}-inside\">Inside {}, for one digit</h3>\n<p class=\"note\">Each layer's output as the \
         network computed it (the same forward pass as training and prediction). Feature maps are drawn in gray: \
         black is the layer's smallest value, white its largest, one scale per layer (the legend).</p>\n",
        esc(&m.name)
    );
    s.push_str(&filters(id, m, out)?);
    s.push_str(&templates(id, m, out)?);
    let classes = m.model.num_classes();
    for (n, (label, pixels)) in digits(own, test, classes).into_iter().enumerate() {
        let (prediction, layers) = m.model.inspect(pixels).map_err(PredictError::from)?;
        let _ = writeln!(
            s,
            "<details{}><summary>{} — read as {} ({:.1} %)</summary>",
            if n == 0 { " open" } else { "" },
            esc(&label),
            prediction.digit,
            100.0 * prediction.confidence
        );
        let tag = format!("{id}-d{n}");
        let input = pictures::map(pixels, 28, 28, 5, Scale::Gray { lo: 0.0, hi: 1.0 });
        let src = out.png(&format!("{tag}-input.png"), &input)?;
        s.push_str("<div class=\"layer\"><h4>input: 28 × 28 × 1</h4>");
        s.push_str(&figure(&src, "the input", "What the network reads: 0 is background (black), 1 is ink (white)."));
        s.push_str("</div>\n");
        for layer in &layers {
            s.push_str(&layer_block(&tag, layer, out)?);
        }
        let title = format!("Read as {} ({:.1} %)", prediction.digit, 100.0 * prediction.confidence);
        let src =
            out.svg(&format!("{tag}-probabilities.svg"), charts::probabilities(&title, &prediction.probabilities))?;
        s.push_str(&figure(
            &src,
            "probabilities",
            "Softmax of the last layer's scores: the probability of each digit.",
        ));
        s.push_str("</details>\n");
    }
    Ok(s)
}

/// What a layer of this kind does, in the tutorial's words.
fn explain(layer: &LayerOutput) -> String {
    let channels = layer.channels();
    match layer.kind {
        "conv2d" => format!("Convolution: each of the {channels} filters slid over the input gives one feature map."),
        "relu" => "ReLU: every negative value becomes 0, the rest pass unchanged.".into(),
        "sigmoid" => "Sigmoid: every value squashed into (0, 1).".into(),
        "tanh" => "Tanh: every value squashed into (−1, 1).".into(),
        "max_pool2d" => "Max pooling: each window keeps its largest value, so the maps shrink.".into(),
        "avg_pool2d" => "Mean pooling: each window keeps its average, so the maps shrink.".into(),
        "flatten" => format!("Flattening: the maps lined up into one vector of {} values.", layer.values.len()),
        "dense" => format!(
            "Fully connected: each of the {} units is a weighted sum of all its inputs plus a bias.",
            layer.values.len()
        ),
        "dropout" => "Dropout: the identity when reading (it only drops values during training).".into(),
        other => format!("{other}."),
    }
}

fn layer_block(tag: &str, layer: &LayerOutput, out: &mut Out) -> Result<String, ReportError> {
    let shape = layer.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" × ");
    let mut s = format!(
        "<div class=\"layer\"><h4>layer {}: {} → {shape}</h4><p class=\"note\">{}</p>\n",
        layer.index,
        layer.kind,
        esc(&explain(layer))
    );
    let scale = Scale::gray_of(&layer.values);
    let name = format!("{tag}-layer{}.png", layer.index);
    let src = match *layer.shape.as_slice() {
        [h, w, c] => {
            let maps: Vec<Vec<f32>> = (0..c).filter_map(|ch| layer.channel(ch)).collect();
            let columns = if c >= 8 { 8 } else { c };
            out.png(&name, &pictures::mosaic(&maps, w, h, columns, pictures::zoom_for(w.max(h), 78), scale))?
        }
        _ => out.png(&name, &pictures::strip(&layer.values, scale))?,
    };
    let caption = match layer.channels() {
        0 => format!("{} values, left to right, top to bottom.", layer.values.len()),
        c => format!("{c} feature maps (channels 0 to {}, row by row).", c - 1),
    };
    s.push_str(&figure(&src, &format!("output of layer {}", layer.index), &caption));
    s.push_str(&legend(&scale));
    s.push_str("</div>\n");
    Ok(s)
}

/// The first convolution's filters, enlarged (first input channel).
fn filters(id: &str, m: &Analysed, out: &mut Out) -> Result<String, ReportError> {
    let net = m.model.network();
    let first_conv = net.layers().iter().enumerate().find_map(|(i, node)| match node {
        Node::Conv2d(conv) => Some((i, conv.weight())),
        _ => None,
    });
    let Some((index, weight)) = first_conv else {
        return Ok(String::new());
    };
    // W [OC, k, k, C]: kernel o, row y, column x, channel 0.
    let &[oc, k, _, c] = weight.value.shape() else { return Ok(String::new()) };
    let data = weight.value.data();
    let kernels: Vec<Vec<f32>> = (0..oc).map(|o| (0..k * k).map(|p| data[(o * k * k + p) * c]).collect()).collect();
    let scale = Scale::signed_of(data);
    let src = out.png(&format!("{id}-filters.png"), &pictures::mosaic(&kernels, k, k, 8, (48 / k).max(4), scale))?;
    let mut s = format!(
        "<div class=\"layer\"><h4>The {oc} filters of layer {index} (the first convolution), enlarged</h4>\
         <p class=\"note\">Each {k}×{k} kernel as learned: red weights reward ink under them, blue weights penalise it.{}</p>\n",
        if c > 1 { " First input channel only." } else { "" }
    );
    s.push_str(&figure(&src, "first convolution's filters", &format!("Filters 0 to {}, row by row.", oc - 1)));
    s.push_str(&legend(&scale));
    s.push_str("</div>\n");
    Ok(s)
}

/// For a network that is one dense layer on the flattened image (the
/// perceptron): each output's weights as a 28×28 template.
fn templates(id: &str, m: &Analysed, out: &mut Out) -> Result<String, ReportError> {
    let net = m.model.network();
    let learnable: Vec<&Node> = net.layers().iter().filter(|node| !node.params().is_empty()).collect();
    let [Node::Dense(only)] = learnable.as_slice() else { return Ok(String::new()) };
    let weight = only.weight();
    let [h, w, c] = net.input_shape();
    // W [O, I]: row o holds output o's weight for every input pixel.
    let &[outputs, inputs] = weight.value.shape() else { return Ok(String::new()) };
    if inputs != h * w * c || c != 1 {
        return Ok(String::new());
    }
    let rows: Vec<Vec<f32>> = weight.value.data().chunks_exact(inputs).map(<[f32]>::to_vec).collect();
    let scale = Scale::signed_of(weight.value.data());
    let src = out.png(&format!("{id}-templates.png"), &pictures::mosaic(&rows, w, h, 5, 4, scale))?;
    let mut s = String::from(
        "<div class=\"layer\"><h4>What each output looks for</h4><p class=\"note\">A perceptron's output for digit d \
         is the sum of the pixels weighted by its 784 weights: drawn as a 28×28 picture, they show the shape it \
         rewards (red) and the places where ink speaks against d (blue).</p>\n",
    );
    s.push_str(&figure(&src, "weight templates", &format!("Outputs 0 to {}, row by row.", outputs - 1)));
    s.push_str(&legend(&scale));
    s.push_str("</div>\n");
    Ok(s)
}
