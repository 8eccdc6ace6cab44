//! `/docs`: the interactive API reference, served from the binary so that it works where
//! the reader's browser has no internet access (ADR 9).
//!
//! - The page loads two things, both from this service: the pinned
//!   `@scalar/api-reference` standalone bundle (`api/assets/scalar/`, refreshed with
//!   `scripts/update-docs-assets`) and `/openapi.json`.
//! - The viewer's configuration turns off what would reach Scalar's services (web fonts,
//!   the agent, the MCP and client buttons, the localhost developer tools); the page's
//!   Content-Security-Policy admits only this origin, so anything left over fails
//!   closed instead of leaking the reader's traffic.
//! - The bundle sits under a versioned path and never changes there: one-year immutable
//!   caching, and a strong ETag per representation (the sha256 of the bytes sent).
//! - Clients that accept gzip get the committed `standalone.js.gz` (1.4 MB rather than
//!   4.9 MB) with no work per request; the compression layer leaves a response that
//!   already has a `Content-Encoding` alone.
//! - Neither route is in the OpenAPI document: they are for people, not API clients.

use std::sync::LazyLock;

use anyhow::Context;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

const BUNDLE: &[u8] = include_bytes!("../../assets/scalar/standalone.js");
const BUNDLE_GZIP: &[u8] = include_bytes!("../../assets/scalar/standalone.js.gz");
const MANIFEST: &str = include_str!("../../assets/scalar/manifest.json");

/// Only this origin; inline styles because the viewer injects its theme as `<style>`
/// elements; `data:`/`blob:` images and frames for the response previews of "Test
/// request".
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; frame-src 'self' blob:; connect-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The viewer's options (`data-configuration`); see the module doc.
const VIEWER_CONFIGURATION: &str = r#"{"withDefaultFonts":false,"telemetry":false,"agent":{"disabled":true},"mcp":{"disabled":true},"hideClientButton":true,"showDeveloperTools":"never"}"#;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The fields of `manifest.json` the routes use (the rest records provenance).
#[derive(Deserialize)]
struct Manifest {
    version: String,
    sha256: String,
    gzip_sha256: String,
}

/// Everything derived from the manifest, computed once.
struct Assets {
    /// `/docs/assets/scalar-<version>.js`.
    bundle_path: String,
    page: String,
    etag: HeaderValue,
    gzip_etag: HeaderValue,
}

impl Assets {
    fn load() -> anyhow::Result<Self> {
        let manifest: Manifest =
            serde_json::from_str(MANIFEST).context("parse api/assets/scalar/manifest.json")?;
        let bundle_path = format!("/docs/assets/scalar-{}.js", manifest.version);
        let etag = |sha256: &str| {
            HeaderValue::from_str(&format!("\"{sha256}\"")).context("an ETag from the manifest")
        };
        Ok(Self {
            page: page(&bundle_path),
            etag: etag(&manifest.sha256)?,
            gzip_etag: etag(&manifest.gzip_sha256)?,
            bundle_path,
        })
    }
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    // The manifest is compiled in and every api test loads it: this cannot fail at run
    // time, and if it did, start-up (which builds the router) is the place to find out.
    Assets::load().expect("the embedded docs asset manifest is valid")
});

/// `GET /docs` and the bundle it loads.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/docs", get(get_docs))
        .route(&ASSETS.bundle_path, get(get_docs_bundle))
}

/// The HTML page: the viewer reads its configuration and the document URL from the
/// `#api-reference` element, so the page needs no inline script.
fn page(bundle_path: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Logspoke control plane API</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json" data-configuration='{VIEWER_CONFIGURATION}'></script>
    <script src="{bundle_path}"></script>
  </body>
</html>
"#
    )
}

async fn get_docs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The page names the bundle's version: revalidate it, so an upgrade shows.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        ASSETS.page.as_str(),
    )
        .into_response()
}

/// The bundle, gzip-encoded when the client accepts it; 304 when the client's copy has
/// the representation's ETag.
async fn get_docs_bundle(request: HeaderMap) -> Response {
    let gzip = accepts_gzip(&request);
    let (etag, body) = if gzip {
        (&ASSETS.gzip_etag, BUNDLE_GZIP)
    } else {
        (&ASSETS.etag, BUNDLE)
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if none_match(&request, etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JAVASCRIPT));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (headers, body).into_response()
}

/// Whether `Accept-Encoding` admits gzip (`gzip` or `x-gzip` with a non-zero q), the
/// rule the compression layer applies too.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok());
            (coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip"))
                && q.is_some_and(|q| q > 0.0)
        })
}

/// `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn none_match(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        HeaderMap::from_iter([(name, HeaderValue::from_static(value))])
    }

    #[test]
    fn gzip_is_accepted_unless_absent_or_refused() {
        let accepts = |v| accepts_gzip(&headers(header::ACCEPT_ENCODING, v));
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("x-gzip"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0.000"));
        assert!(!accepts("gzip;q=nope"));
        assert!(!accepts("br, identity"));
        assert!(!accepts("*"), "the compression layer does not read * either");
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let matches = |v| none_match(&headers(header::IF_NONE_MATCH, v), &etag);
        assert!(matches("\"abc\""));
        assert!(matches("W/\"abc\""));
        assert!(matches("\"x\", \"abc\""));
        assert!(matches("*"));
        assert!(!matches("\"abcd\""));
        assert!(!matches("abc"));
        assert!(!none_match(&HeaderMap::new(), &etag));
    }

    /// CRC-32 (IEEE), as in the gzip trailer.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn the_gzip_file_holds_the_bundle() {
        // The gzip trailer is the CRC-32 and the length of the uncompressed data.
        assert_eq!(BUNDLE_GZIP[..2], [0x1f, 0x8b]);
        let trailer = &BUNDLE_GZIP[BUNDLE_GZIP.len() - 8..];
        let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
        let size = u32::from_le_bytes(trailer[4..].try_into().unwrap());
        assert_eq!(size as usize, BUNDLE.len());
        assert_eq!(crc, crc32(BUNDLE));
    }

    #[test]
    fn the_manifest_loads_and_the_page_names_the_versioned_bundle() {
        let assets = Assets::load().unwrap();
        assert!(assets.bundle_path.starts_with("/docs/assets/scalar-"));
        assert!(assets
            .page
            .contains(&format!(r#"<script src="{}">"#, assets.bundle_path)));
        let configuration: serde_json::Value = serde_json::from_str(VIEWER_CONFIGURATION).unwrap();
        assert_eq!(configuration["withDefaultFonts"], false);
    }
}
