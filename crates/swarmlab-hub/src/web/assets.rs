//! The stylesheet and the script, compiled into the binary. Their links carry a hash of
//! their content, so browsers may keep them for a year and still never run a stale one.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::PageError;

const FILES: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
];

fn versions() -> &'static Vec<(&'static str, String)> {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, _, text)| (*name, hex::encode(&Sha256::digest(text.as_bytes())[..6])))
            .collect()
    })
}

/// The link to an asset, with its content hash.
pub fn href(name: &str) -> String {
    let version = versions()
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v.as_str());
    format!("/assets/{name}?v={version}")
}

pub async fn asset(Path(file): Path<String>) -> Result<Response, PageError> {
    let (_, content_type, text) = FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| PageError::not_found(format!("asset `{file}`")))?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *text,
    )
        .into_response())
}
