//! HTML: the sanitiser for remote HTML (`vocab::sanitize_html`) and the owner's text formatter
//! (`text::format`: links, mentions, hashtags, escaping). Input: any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pipit::federation::vocab;
#[path = "inert.rs"]
mod inert;
use inert::assert_inert;

fn urls() -> pipit::urls::Urls {
    let public = pipit::config::parse_public_url("https://pipit.example").expect("url");
    pipit::urls::Urls::new(&public, "alice")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let clean = vocab::sanitize_html(&text);
    assert_inert(&clean, "sanitize_html");
    // Re-sanitising (HTML re-parsing is not idempotent: a stray <li> moves) stays inert.
    assert_inert(&vocab::sanitize_html(&clean), "sanitize_html twice");

    let u = urls();
    let f = pipit::text::format(&text, &u, &|user, host| Some(format!("https://{host}/users/{user}")));
    assert_inert(&f.html, "text::format");
    let _ = pipit::text::format_plain(&text, &u);
    let escaped = pipit::text::escape(&text);
    assert!(!escaped.contains(['<', '>', '"']), "escape left markup: {escaped}");
});
