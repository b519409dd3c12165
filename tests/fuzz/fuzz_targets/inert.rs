//! Shared check of the fuzz targets: HTML that pipit stores or renders is inert.

/// No executable HTML: none of the elements that run or load things, no event-handler
/// attributes, and every `href`/`src` either relative or http(s)/mailto.
pub fn assert_inert(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "<style", "<iframe", "<object", "<embed", "<img", "<svg", "<math", "<form", "<base", "<meta", "<link"] {
        assert!(!lower.contains(bad), "{what} kept {bad:?}: {html}");
    }
    for (name, value) in attributes(&lower) {
        assert!(!name.starts_with("on") && name != "style" && name != "srcdoc", "{what} kept attribute {name:?}: {html}");
        if name == "href" || name == "src" {
            if let Some(scheme) = url_scheme(&value) {
                assert!(["http", "https", "mailto"].contains(&scheme.as_str()), "{what} kept a {scheme:?} URL: {html}");
            }
        }
    }
}

/// (name, value) of every attribute of every tag, quotes respected (the serialiser quotes
/// values with `"` and escapes `"` inside them).
fn attributes(html: &str) -> Vec<(String, String)> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
            i += 1; // tag name
        }
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' {
                i += 1;
            }
            let name = html[start..i].to_string();
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    let vs = i + 1;
                    i = vs;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    value = html[vs..i.min(b.len())].to_string();
                    i += 1;
                } else {
                    let vs = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = html[vs..i].to_string();
                }
            }
            out.push((name, value));
        }
    }
    out
}

/// The scheme a browser would read in an attribute value (WHATWG URL: leading and trailing C0
/// controls and spaces trimmed, tabs and newlines removed anywhere, then ALPHA *(ALPHA / DIGIT /
/// "+" / "-" / ".") before ':'), lower-cased; None for a relative URL.
fn url_scheme(value: &str) -> Option<String> {
    let v: String = value.replace("&amp;", "&").chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let v = v.trim_matches(|c: char| c <= ' ');
    let colon = v.find(':')?;
    let s = &v[..colon];
    let mut chars = s.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then(|| s.to_ascii_lowercase())
}
