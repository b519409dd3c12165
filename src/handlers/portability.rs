//! Settings → export downloads (issue 12): GET /settings/export/NAME for Mastodon's CSVs and
//! the posts archive. The file is written to an unlinked spool file off the async workers and
//! streamed from disk: never built in memory.

use crate::app::App;
use crate::error::{Error, Result};
use crate::export::{self, CsvKind};
use crate::handlers::auth;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::Request;
use std::io::Seek;

/// GET /settings/export/NAME (`archive.tar.gz` or one of the CSV file names). Owner only.
pub async fn download(app: &App, req: &Request<Incoming>, name: &str) -> Result<Resp> {
    if let Err(r) = auth::require_owner_page(app, req.headers()) {
        return Ok(r);
    }
    let kind = if name == "archive.tar.gz" { None } else { Some(CsvKind::parse(name).filter(|k| k.file_name() == name).ok_or(Error::NotFound)?) };
    let app2 = app.clone();
    let (file, len) = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, u64)> {
        let f = export::spool(&app2.data)?;
        let mut w = std::io::BufWriter::new(f);
        match kind {
            Some(k) => {
                export::write_csv(&app2, k, &mut w)?;
            }
            None => {
                export::write_archive(&app2, &mut w)?;
            }
        }
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        let len = f.stream_position()?;
        f.rewind()?;
        Ok((f, len))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    let mut r = hyper::Response::new(response::file_body(tokio::fs::File::from_std(file)));
    let h = r.headers_mut();
    let ct = if kind.is_some() { "text/csv; charset=utf-8" } else { "application/gzip" };
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// POST /settings/import (multipart: `kind`, `file`, `overwrite`): one of Mastodon's CSVs.
/// A bad file comes back at once, line by line, and nothing is applied; a good one is queued
/// (import.rs `start_import`) and the settings page shows its progress: done, failed (each line
/// with its reason) and pending rows.
pub async fn import(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let limit = app.config.max_body_kib as usize * 1024;
    // Session and CSRF are checked before the body is read; the file arrives in DATA/tmp.
    let (_parts, sub) = auth::receive_owner_form(app, req, limit, std::time::Duration::from_secs(60)).await?;
    let kind = CsvKind::parse(&sub.form.text("kind")).ok_or_else(|| Error::BadRequest("Choose what the file holds".into()))?;
    let file = sub.files.iter().find(|f| f.name == "file" && f.len > 0).ok_or_else(|| Error::BadRequest("Choose a CSV file".into()))?;
    // Bounded by `limit` above (a CSV is not an image: max_upload_kib does not apply).
    let data = std::fs::read(&file.path)?;
    crate::import::start_import(app, kind, &data, sub.form.get("overwrite").is_some())?;
    Ok(response::redirect("/settings?done=importing#import-form"))
}
