//! `/docs` works without internet access: the page and everything it loads come from the
//! api, the bundle is the pinned one, and it is cached and revalidated correctly (ADR 9).

use reqwest::header::{self, HeaderValue};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

const MANIFEST: &str = include_str!("../../assets/scalar/manifest.json");

fn manifest() -> Value {
    serde_json::from_str(MANIFEST).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn header(response: &reqwest::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("{name} is missing"))
        .to_str()
        .unwrap()
}

/// The values of every `src`, `href` and `data-url` attribute of `html`.
fn referenced_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in [" src=\"", " href=\"", " data-url=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("a closing quote");
            urls.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    urls
}

async fn get_docs(app: &TestApp) -> reqwest::Response {
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

async fn bundle_path(app: &TestApp) -> String {
    let html = get_docs(app).await.text().await.unwrap();
    let scripts: Vec<_> = referenced_urls(&html)
        .into_iter()
        .filter(|url| url.ends_with(".js"))
        .collect();
    assert_eq!(scripts.len(), 1, "{html}");
    scripts[0].clone()
}

#[tokio::test]
async fn docs_page_is_html_under_a_same_origin_content_security_policy() {
    let app = TestApp::spawn().await;
    let response = get_docs(&app).await;
    assert_eq!(
        header(&response, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = header(&response, header::CONTENT_SECURITY_POLICY).to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self';",
        "font-src 'self';",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("://"), "no other origin in {csp}");
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(!html.contains("://"), "no absolute URL in the page: {html}");
    assert!(
        html.contains(r#""withDefaultFonts":false"#),
        "fonts are not fetched from fonts.scalar.com: {html}"
    );
}

#[tokio::test]
async fn everything_the_docs_page_references_is_served_by_the_api() {
    let app = TestApp::spawn().await;
    let html = get_docs(&app).await.text().await.unwrap();
    let urls = referenced_urls(&html);
    assert!(urls.contains(&"/openapi.json".to_owned()), "{urls:?}");
    assert_eq!(urls.len(), 2, "the spec and the bundle: {urls:?}");
    for url in urls {
        assert!(
            url.starts_with('/') && !url.starts_with("//"),
            "{url} is not a path on this host"
        );
        let response = app.client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let expected = if url.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "application/json"
        };
        assert_eq!(header(&response, header::CONTENT_TYPE), expected, "{url}");
    }
}

#[tokio::test]
async fn the_bundle_is_the_pinned_version_with_the_manifest_hashes() {
    let app = TestApp::spawn().await;
    let manifest = manifest();
    let path = bundle_path(&app).await;
    let version = manifest["version"].as_str().unwrap();
    assert_eq!(path, format!("/docs/assets/scalar-{version}.js"));

    let plain = app.client.get(app.url(&path)).send().await.unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(
        header(&plain, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let etag = header(&plain, header::ETAG).to_owned();
    let body = plain.bytes().await.unwrap();
    assert_eq!(body.len() as u64, manifest["bytes"].as_u64().unwrap());
    assert_eq!(sha256(&body), manifest["sha256"].as_str().unwrap());
    assert_eq!(etag, format!("\"{}\"", manifest["sha256"].as_str().unwrap()));

    let gzip = app
        .client
        .get(app.url(&path))
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    let encodings: Vec<_> = gzip.headers().get_all(header::CONTENT_ENCODING).iter().collect();
    assert_eq!(encodings, [HeaderValue::from_static("gzip")], "compressed once");
    assert_eq!(header(&gzip, header::VARY), "accept-encoding");
    let gzip_etag = header(&gzip, header::ETAG).to_owned();
    let body = gzip.bytes().await.unwrap();
    assert_eq!(sha256(&body), manifest["gzip_sha256"].as_str().unwrap());
    assert_eq!(gzip_etag, format!("\"{}\"", sha256(&body)));
}

#[tokio::test]
async fn the_bundle_revalidates_with_304_for_the_etag_of_its_representation() {
    let app = TestApp::spawn().await;
    let path = bundle_path(&app).await;
    let first = app.client.get(app.url(&path)).send().await.unwrap();
    let etag = header(&first, header::ETAG).to_owned();
    assert!(!etag.starts_with("W/"), "strong: {etag}");

    let revalidate = |if_none_match: String, accept_encoding: &'static str| {
        app.client
            .get(app.url(&path))
            .header(header::IF_NONE_MATCH, if_none_match)
            .header(header::ACCEPT_ENCODING, accept_encoding)
            .send()
    };
    let unchanged = revalidate(etag.clone(), "identity").await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(header(&unchanged, header::ETAG), etag);
    assert!(unchanged.bytes().await.unwrap().is_empty());

    let listed = revalidate(format!("\"other\", {etag}"), "identity")
        .await
        .unwrap();
    assert_eq!(listed.status(), 304);
    let other = revalidate("\"other\"".to_owned(), "identity").await.unwrap();
    assert_eq!(other.status(), 200);
    // The gzip representation has its own ETag: the identity one does not match it.
    let gzip = revalidate(etag, "gzip").await.unwrap();
    assert_eq!(gzip.status(), 200);
    assert_eq!(header(&gzip, header::CONTENT_ENCODING), "gzip");
}
