//! WebFinger: the query string of GET /.well-known/webfinger as the handler reads it
//! (`Form::parse`, percent-decoding) and the `resource` match (`wellknown::is_own_resource`).
//! Input: the raw query string.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pipit::server::request::{percent_decode, percent_encode, Form};

fn urls() -> pipit::urls::Urls {
    let public = pipit::config::parse_public_url("https://pipit.example").expect("url");
    pipit::urls::Urls::new(&public, "alice")
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let u = urls();
    let form = Form::parse(query);
    if let Some(resource) = form.get("resource") {
        let own = pipit::handlers::wellknown::is_own_resource(&u, resource);
        // Only the owner's names match; anything naming another user or host does not.
        if own {
            let r = resource.to_ascii_lowercase();
            assert!(r.contains("alice") && r.contains("pipit.example"), "{resource:?} matched the owner");
        }
    }
    // Percent-encoding round-trips any text.
    assert_eq!(percent_decode(&percent_encode(query)), query, "percent round trip");
});
