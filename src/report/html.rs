//! Small HTML helpers for the report: escaping, tables, figures, legends,
//! and the page around the sections (one inline style sheet, no script,
//! nothing from the network).

use super::pictures::Scale;
use std::fmt::Write;

/// `text` with `&`, `<`, `>` and quotes escaped.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table with a header row; cells are HTML (escape text before).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// An image with a caption.
pub fn figure(src: &str, alt: &str, caption: &str) -> String {
    format!("<figure><img src=\"{}\" alt=\"{}\"><figcaption>{caption}</figcaption></figure>\n", esc(src), esc(alt))
}

/// The colour bar of a scale with the values at its ends.
pub fn legend(scale: &Scale) -> String {
    let (lo, hi) = scale.ends();
    format!(
        "<div class=\"legend\"><span>{}</span><span class=\"bar\" style=\"background:{}\"></span><span>{}</span></div>\n",
        number(lo),
        scale.css_gradient(),
        number(hi)
    )
}

/// A number with about three significant digits.
pub fn number(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A percentage with two decimals: `0.99263` → `99.26 %`.
pub fn percent(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 0 1.2em 3em; color: #1d2327; line-height: 1.45; }
h1 { margin-top: 1em; } h2 { border-bottom: 2px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.5em; } nav { background: #f6f8fa; padding: .6em 1em; border-radius: 6px; }
nav a { margin-right: 1em; } code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .92em; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; border-radius: 6px; }
table { border-collapse: collapse; margin: .6em 0; } th, td { border: 1px solid #d0d7de; padding: .25em .6em; }
th { background: #f6f8fa; text-align: left; } td { font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: .4em .8em .8em 0; vertical-align: top; }
figcaption { font-size: .85em; color: #57606a; max-width: 800px; }
img { image-rendering: pixelated; image-rendering: crisp-edges; max-width: 100%; }
img[src$=".svg"] { image-rendering: auto; }
.gallery figure { margin: .3em; text-align: center; } .gallery figcaption { max-width: 110px; }
.legend { display: flex; align-items: center; gap: .5em; font-size: .85em; color: #57606a; margin: .2em 0 .6em; }
.legend .bar { display: inline-block; width: 180px; height: 12px; border: 1px solid #8c959f; }
.layer { border-left: 4px solid #d0d7de; padding-left: .8em; margin: 1em 0; }
.layer h4 { margin: .2em 0; } .note { color: #57606a; font-size: .92em; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
.wide { overflow-x: auto; } table.worked pre { font-size: .72em; padding: .4em; margin: .3em 0 0; }
table.worked td { vertical-align: top; }
.warn { background: #fff8c5; border: 1px solid #d4a72c; padding: .5em .8em; border-radius: 6px; }
"#;

/// The whole page: title, navigation, then the sections' HTML.
pub fn page(title: &str, nav: &[(String, String)], body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<nav>",
        esc(title),
        esc(title)
    );
    for (id, label) in nav {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", esc(id), esc(label));
    }
    out.push_str("</nav>\n");
    out.push_str(body);
    let _ = write!(
        out,
        "<p class=\"note\">Written by chiffre {} (offline: every picture is a file beside this page).</p>\n\
         </body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1234.5), "1234");
        assert_eq!(number(-2.5), "-2.50");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(percent(0.99263), "99.26 %");
        let t = table(&["a"], &[vec!["1".into()]]);
        assert!(t.contains("<th>a</th>") && t.contains("<td>1</td>"));
        let p = page("T", &[("x".into(), "X".into())], "<p>body</p>");
        assert!(p.starts_with("<!DOCTYPE html>") && p.contains("href=\"#x\"") && p.contains("<p>body</p>"));
        assert!(!p.contains("http"), "the page must load nothing from the network");
    }
}
