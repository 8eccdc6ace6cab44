//! Where a JWKS comes from (`LOGSPOKE_JWT_JWKS`) and how one copy is fetched.
//!
//! A URL must be `https://`; `http://` is allowed only for loopback hosts (127.0.0.0/8,
//! ::1, `localhost`), for tests and a local stack. Redirects are followed only to URLs
//! that pass the same rule, so TLS cannot be downgraded on the way. Anything without
//! `://` is a file path.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use reqwest::{header, redirect, Url};

/// A JWKS larger than this is refused (real ones are a few kilobytes).
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Redirects followed before a fetch fails.
const MAX_REDIRECTS: usize = 5;

/// `LOGSPOKE_JWT_JWKS`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// An identity provider's JWKS endpoint.
    Url(Url),
    /// A file, read at start (and again on the default TTL).
    File(PathBuf),
}

impl JwksLocation {
    /// Accepts an `https://` URL, an `http://` URL of a loopback host, or a file path.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if !value.contains("://") {
            return Ok(Self::File(PathBuf::from(value)));
        }
        let url = Url::parse(value).map_err(|err| format!("is not a valid URL ({err})"))?;
        url_allowed(&url)?;
        Ok(Self::Url(url))
    }
}

impl std::fmt::Display for JwksLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) if url.password().is_some() => {
                let mut redacted = url.clone();
                let _ = redacted.set_password(Some("redacted"));
                write!(f, "{redacted}")
            }
            Self::Url(url) => write!(f, "{url}"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The scheme rule for the configured URL and every redirect target.
fn url_allowed(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => {
            Err("must be an https:// URL (http:// is allowed only for 127.0.0.0/8, ::1 and localhost)".into())
        }
        other => Err(format!("must be an https:// URL or a file path, not {other}://")),
    }
}

/// The rule for a redirect target: the configured URL's rule, and no way back from
/// https:// to anything else.
fn redirect_allowed(from_https: bool, target: &Url) -> Result<(), String> {
    if from_https && target.scheme() != "https" {
        return Err("must stay on https:// (the key set's URL is https)".into());
    }
    url_allowed(target)
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// One fetched copy of the JWKS document.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The document, parsed by the caller.
    pub(crate) body: String,
    /// The response's `Cache-Control: max-age` (never set for a file).
    pub(crate) max_age: Option<Duration>,
}

/// Fetches the JWKS: from its location in production, from a script in unit tests.
pub(crate) trait FetchJwks: Send + Sync {
    /// One attempt, without retries (the cache schedules those).
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<Fetched>>;
}

/// The real fetcher: HTTP(S) with rustls, or the file system.
pub(crate) struct SourceFetcher {
    location: JwksLocation,
    client: reqwest::Client,
}

impl SourceFetcher {
    pub(crate) fn new(location: JwksLocation, timeout: Duration) -> anyhow::Result<Self> {
        // An https:// key set is never followed to plain http, not even on loopback: that
        // would be a downgrade (and a request to a local port chosen by the redirector).
        let https_only = matches!(&location, JwksLocation::Url(url) if url.scheme() == "https");
        let redirects = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            match redirect_allowed(https_only, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(format!("refused a redirect: the target {why}")),
            }
        });
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(redirects)
            .build()
            .context("building the JWKS HTTP client")?;
        Ok(Self { location, client })
    }

    async fn fetch_url(&self, url: &Url) -> anyhow::Result<Fetched> {
        let mut response = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching {}", self.location))?;
        let max_age = max_age(response.headers().get_all(header::CACHE_CONTROL));
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading {}", self.location))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                bail!("{} is larger than {MAX_JWKS_BYTES} bytes", self.location);
            }
        }
        let body = String::from_utf8(body).with_context(|| format!("{} is not UTF-8", self.location))?;
        Ok(Fetched { body, max_age })
    }
}

impl FetchJwks for SourceFetcher {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<Fetched>> {
        Box::pin(async move {
            match &self.location {
                JwksLocation::Url(url) => self.fetch_url(url).await,
                JwksLocation::File(path) => {
                    let body = tokio::fs::read_to_string(path)
                        .await
                        .with_context(|| format!("reading {}", path.display()))?;
                    Ok(Fetched { body, max_age: None })
                }
            }
        })
    }
}

/// The `max-age` of `Cache-Control` headers; `no-cache` and `no-store` count as zero.
fn max_age<'a>(values: impl IntoIterator<Item = &'a header::HeaderValue>) -> Option<Duration> {
    let directives = values
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    let mut found = None;
    for directive in directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            found = found.or(value
                .trim()
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_key_set_is_never_redirected_to_plain_http() {
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(redirect_allowed(true, &url("https://idp.example/keys")).is_ok());
        assert!(redirect_allowed(true, &url("http://127.0.0.1:9000/keys")).is_err());
        assert!(redirect_allowed(true, &url("http://idp.example/keys")).is_err());
        // A loopback http key set (tests) may move on loopback, and up to https.
        assert!(redirect_allowed(false, &url("http://127.0.0.1:9001/keys")).is_ok());
        assert!(redirect_allowed(false, &url("https://idp.example/keys")).is_ok());
        assert!(redirect_allowed(false, &url("http://idp.example/keys")).is_err());
    }

    #[test]
    fn https_urls_loopback_http_urls_and_paths_are_accepted() {
        for url in [
            "https://idp.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
            "HTTP://LOCALHOST:1/jwks",
        ] {
            assert!(
                matches!(JwksLocation::parse(url), Ok(JwksLocation::Url(_))),
                "{url}"
            );
        }
        assert_eq!(
            JwksLocation::parse("/etc/logspoke/jwks.json"),
            Ok(JwksLocation::File("/etc/logspoke/jwks.json".into()))
        );
    }

    #[test]
    fn plain_http_to_other_hosts_and_other_schemes_are_refused() {
        for url in [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "http://[::2]/jwks",
            "http://localhost.evil.example/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "ftp://idp.example/jwks",
            "file:///etc/jwks.json",
            "https://",
        ] {
            assert!(JwksLocation::parse(url).is_err(), "{url}");
        }
        let err = JwksLocation::parse("http://idp.example/jwks").unwrap_err();
        assert!(err.contains("https://"), "{err}");
    }

    #[test]
    fn a_password_in_the_url_is_not_displayed() {
        let location = JwksLocation::parse("https://user:hunter2@idp.example/jwks").unwrap();
        assert!(!location.to_string().contains("hunter2"), "{location}");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let parse = |values: &[&str]| {
            let values: Vec<header::HeaderValue> = values
                .iter()
                .map(|v| header::HeaderValue::from_str(v).unwrap())
                .collect();
            max_age(&values)
        };
        assert_eq!(
            parse(&["public, max-age=300, must-revalidate"]),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse(&["Max-Age = \"60\""]), Some(Duration::from_secs(60)));
        assert_eq!(parse(&["public", "max-age=7"]), Some(Duration::from_secs(7)));
        assert_eq!(parse(&["no-cache"]), Some(Duration::ZERO));
        assert_eq!(parse(&["max-age=600, no-store"]), Some(Duration::ZERO));
        assert_eq!(parse(&["public"]), None);
        assert_eq!(parse(&["max-age=soon"]), None);
        assert_eq!(parse(&[]), None);
    }
}
