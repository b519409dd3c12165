//! POST /webmention (source, target; form-encoded): the Webmention endpoint every page
//! advertises (`<link rel="webmention">` and a `Link` header). Verified at once
//! (federation::webmention): 200 when kept or removed, 400 for a bad source or target.

use crate::app::App;
use crate::error::Result;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;

pub async fn receive(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = crate::handlers::auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    let outcome = crate::federation::webmention::receive(app, &form.text("source"), &form.text("target")).await?;
    let text = match outcome {
        crate::federation::webmention::Verified::Kept => "webmention accepted\n",
        crate::federation::webmention::Verified::Removed => "webmention removed: the source does not link to the target\n",
    };
    Ok(response::with_type(200, "text/plain; charset=utf-8", text.to_string()))
}
