//! Server-side resilience (issue 9): response headers, redirects, login limits, connection cap,
//! uploads, delivery fairness. Each test names the bad input it tries.

mod common;
use common::*;

/// Every response carries a CSP without inline script or plugins and with frame-ancestors 'none';
/// the pages themselves contain no inline script, on* handler or style="" attribute that the
/// policy would break.
#[tokio::test]
async fn every_response_has_a_strict_content_security_policy() {
    let i = Instance::start("csp").await;
    let c = i.owner_client().await;
    let csrf = c.owner_csrf().await;
    let r = c.post_form("/compose", &[("csrf", &csrf), ("content", "hello csp"), ("visibility", "public")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let anon = i.client();
    for (who, path) in [(&c, "/@csp"), (&c, "/home"), (&c, "/settings"), (&c, "/lists"), (&c, "/deck"), (&anon, "/login"), (&anon, "/no-such-page"), (&anon, "/static/style.css"), (&anon, "/@csp.atom")] {
        let r = who.get(path).await;
        let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert!(r.header("referrer-policy").is_some(), "{path}");
        if r.header("content-type").unwrap_or("").starts_with("text/html") {
            let body = r.body.to_ascii_lowercase();
            assert_eq!(body.matches("<script").count(), body.matches("<script src=\"/static/").count(), "{path}: inline <script> in the page");
            for attr in [" onsubmit=", " onclick=", " onload=", " onchange=", " style="] {
                assert!(!body.contains(attr), "{path}: `{attr}` attribute would be blocked by the CSP");
            }
        }
    }
    i.stop().await;
}

/// A form's `back` field may only send the browser to a path on this site.
#[tokio::test]
async fn back_field_is_no_open_redirect() {
    let i = Instance::start("back").await;
    let c = i.owner_client().await;
    let csrf = c.owner_csrf().await;
    // Bad inputs tried: protocol-relative, backslash, absolute, tab-in-path (browsers strip tabs).
    for bad in ["//evil.example/x", "/\\evil.example", "https://evil.example/", "/\t/evil.example"] {
        let r = c.post_form("/filters", &[("csrf", &csrf), ("keyword", "spoiler"), ("action", "hide"), ("context", "home"), ("back", bad)]).await;
        assert_eq!(r.status, 303, "{bad:?}: {}", r.body);
        assert_eq!(r.location(), "/settings/safety?done=Saved", "back={bad:?} must not leave the site");
    }
    let r = c.post_form("/filters", &[("csrf", &csrf), ("keyword", "x"), ("action", "hide"), ("context", "home"), ("back", "/lists?done=ok")]).await;
    assert_eq!(r.location(), "/lists?done=ok");
    i.stop().await;
}
