//! Cursor pagination: opaque cursors that encode the last key of a page, so pages stay
//! stable while rows are added or removed elsewhere.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Default and bounds of `limit`.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest accepted `limit`.
pub const MAX_LIMIT: u32 = 500;

/// `?limit=&cursor=` of a list operation.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return.
    pub limit: u32,
    /// The last key of the previous page, if any.
    pub after: Option<String>,
}

impl PageRequest {
    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

impl PageParams {
    /// Validates the limit and decodes the cursor.
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        // An empty cursor is the first page, like no cursor.
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()?;
        Ok(PageRequest { limit, after })
    }
}

const CURSOR_PREFIX: &str = "v1:";

/// Encodes the last key of a page as an opaque cursor.
pub fn encode_cursor(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{last_key}"))
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::BadRequest("cursor is not a cursor returned by this API".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX)
        .map(str::to_owned)
        .ok_or_else(invalid)
}

/// Splits a fetched `limit + 1` rows into the page and the cursor of the next one.
pub fn paginate<T>(
    mut rows: Vec<T>,
    page: &PageRequest,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = page.limit as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|row| encode_cursor(&key(row)));
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let params = PageParams {
            limit: Some(10),
            cursor: Some(encode_cursor("acme")),
        };
        assert_eq!(
            params.parse().unwrap(),
            PageRequest {
                limit: 10,
                after: Some("acme".into())
            }
        );
    }

    #[test]
    fn limits_outside_bounds_and_foreign_cursors_are_refused() {
        for limit in [0, 501, 10_000] {
            let params = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            assert!(matches!(params.parse(), Err(ApiError::BadRequest(_))), "{limit}");
        }
        for cursor in ["not base64!", "YWNtZQ"] {
            let params = PageParams {
                limit: None,
                cursor: Some(cursor.into()),
            };
            assert!(matches!(params.parse(), Err(ApiError::BadRequest(_))), "{cursor}");
        }
        // `?cursor=` (empty) is the first page, as if no cursor were given.
        let empty = PageParams {
            limit: None,
            cursor: Some(String::new()),
        };
        assert!(matches!(empty.parse(), Ok(PageRequest { after: None, .. })));
    }

    #[test]
    fn paginate_returns_a_cursor_only_when_more_rows_exist() {
        let page = PageRequest {
            limit: 2,
            after: None,
        };
        let (rows, next) = paginate(vec!["a", "b"], &page, |r| r.to_string());
        assert_eq!((rows.len(), next), (2, None));
        let (rows, next) = paginate(vec!["a", "b", "c"], &page, |r| r.to_string());
        assert_eq!(rows, vec!["a", "b"]);
        assert_eq!(next, Some(encode_cursor("b")));
    }
}
