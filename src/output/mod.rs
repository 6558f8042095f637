//! What tools return: the output types (`structuredContent`), their compact text rows, and the
//! one paging pipeline every list uses (resume cursor → Whop page → output items → text rows
//! within the budget → the cursor for what follows).
//!
//! Text written by other people passes through [`text`] before a model reads it.

pub(crate) mod channels;
pub(crate) mod messages;
pub(crate) mod people;
pub(crate) mod search;
pub(crate) mod support;
pub(crate) mod text;

use crate::whop::models::Page;

/// Largest text answer a tool gives, in bytes (about 5,000 tokens). A list that would be
/// longer is cut at an item boundary, says so, and hands out a cursor to continue.
pub(crate) const TEXT_BUDGET: usize = 20_000;
/// Room kept for a listing's header and footer within [`TEXT_BUDGET`].
const FRAME_BYTES: usize = 300;
/// Longest message text shown per message in a list; the full text is in structuredContent.
pub(crate) const LIST_CONTENT_CHARS: usize = 1_000;
/// Largest page a list asks Whop for.
pub(crate) const MAX_LIMIT: u32 = 100;

/// Items that render as rows of a text listing.
pub(crate) trait Rows: Sized {
    /// The rows for `items`, in order, and for each item the number of rows up to and
    /// including its own (headings shared by several items count before the first of them).
    fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>);

    /// Appends the rows of `items` to `body`, a line each, while they fit in `budget` bytes
    /// (the first row always goes in, as [`text::push_within`] has it); returns how many
    /// items had all their rows kept. A type can write its rows straight into `body` instead
    /// of building them one by one, as long as the text is the same.
    fn write_rows(items: &[Self], body: &mut String, budget: usize) -> usize {
        rows_within(items, body, budget)
    }
}

/// [`Rows::write_rows`] from [`Rows::rows`]: every row built, then copied while it fits.
pub(crate) fn rows_within<T: Rows>(items: &[T], body: &mut String, budget: usize) -> usize {
    let (rows, ends) = T::rows(items);
    body.reserve(rows.iter().map(|r| r.len() + 1).sum::<usize>().min(budget));
    let kept_rows = text::push_within(body, &rows, budget);
    ends.iter().take_while(|end| **end <= kept_rows).count()
}

/// Rows written one at a time into a listing's body, kept while they fit its budget: the
/// streaming form of [`text::push_within`].
pub(crate) struct RowWriter<'a> {
    body: &'a mut String,
    budget: usize,
    kept: usize,
    full: bool,
}

impl<'a> RowWriter<'a> {
    pub(crate) fn new(body: &'a mut String, budget: usize) -> Self {
        RowWriter {
            body,
            budget,
            kept: 0,
            full: false,
        }
    }

    /// Writes one row with `write` (without its line break); returns whether it was kept. A
    /// row that does not fit is taken back out, and every row after it is refused, exactly
    /// where [`text::push_within`] stops.
    pub(crate) fn row(&mut self, write: impl FnOnce(&mut String)) -> bool {
        if self.full {
            return false;
        }
        let start = self.body.len();
        write(self.body);
        self.body.push('\n');
        if self.body.len() > self.budget && self.kept > 0 {
            self.body.truncate(start);
            self.full = true;
            return false;
        }
        self.kept += 1;
        true
    }
}

/// Rows for items that render as one line each.
pub(crate) fn one_row_each<T>(
    items: &[T],
    line: impl Fn(&T) -> String,
) -> (Vec<String>, Vec<usize>) {
    (
        items.iter().map(line).collect(),
        (1..=items.len()).collect(),
    )
}

/// Keeps the items whose rows fit the text budget; returns the rows' text and whether any
/// item was cut.
pub(crate) fn fit<T: Rows>(items: &mut Vec<T>) -> (String, bool) {
    let mut body = String::new();
    let shown = T::write_rows(items, &mut body, TEXT_BUDGET - FRAME_BYTES);
    let cut = shown < items.len();
    items.truncate(shown);
    (body, cut)
}

/// One page of a listing, ready to be framed by its tool.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    /// The items shown (they also go into `structuredContent`).
    pub(crate) items: Vec<T>,
    /// Their rows, one line each, within the text budget.
    pub(crate) body: String,
    /// Whether items of the page were left out to stay within the budget.
    pub(crate) cut: bool,
    /// Where the next call continues.
    pub(crate) next_cursor: Option<String>,
}

/// The paging pipeline: a Whop page fetched for `resume` becomes the output items not yet
/// shown, their rows within the budget, and the cursor for what follows. The page is taken
/// by value so that its strings can move into the output instead of being copied.
pub(crate) fn paginate<W, T: Rows>(
    resume: &Resume,
    page: Page<W>,
    to_output: impl FnMut(W) -> T,
) -> Listing<T> {
    let page_next = page.next_cursor(resume.after.as_deref());
    let fetched = page.data.len();
    let mut items: Vec<T> = page
        .data
        .into_iter()
        .skip(resume.skip)
        .map(to_output)
        .collect();
    let (body, cut) = fit(&mut items);
    let next_cursor = resume.next(items.len(), fetched, page_next);
    Listing {
        items,
        body,
        cut,
        next_cursor,
    }
}

/// The last line of a listing: the cursor to continue with, or `end`.
pub(crate) fn footer(next_cursor: Option<&str>, end: &str) -> String {
    match next_cursor {
        Some(c) => format!("more: cursor=\"{c}\""),
        None => end.to_owned(),
    }
}

/// `""` for one, `"s"` otherwise.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A cursor our lists hand out that cannot be continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadCursor {
    /// Not a cursor this server made (too long, control characters).
    Foreign,
    /// Looks like ours but does not parse.
    Malformed,
}

/// Where a list continues. Our `next_cursor` is Whop's cursor, except when an answer was cut
/// short by [`TEXT_BUDGET`]: then it is `~N~<whop cursor>` ("skip N items after that cursor"),
/// since Whop's cursors are opaque and cannot point inside a page. `~` never occurs in them
/// (they are base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub(crate) after: Option<String>,
    pub(crate) skip: usize,
}

impl Resume {
    pub(crate) fn parse(cursor: Option<&str>) -> Result<Self, BadCursor> {
        let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(Resume {
                after: None,
                skip: 0,
            });
        };
        if c.len() > 2048 || c.chars().any(char::is_control) {
            return Err(BadCursor::Foreign);
        }
        if let Some(rest) = c.strip_prefix('~') {
            let (n, after) = rest.split_once('~').ok_or(BadCursor::Malformed)?;
            let skip = n
                .parse::<usize>()
                .ok()
                .filter(|n| *n < MAX_LIMIT as usize)
                .ok_or(BadCursor::Malformed)?;
            return Ok(Resume {
                after: (!after.is_empty()).then(|| after.to_owned()),
                skip,
            });
        }
        Ok(Resume {
            after: Some(c.to_owned()),
            skip: 0,
        })
    }

    /// How many items to ask Whop for so that `limit` remain after skipping.
    pub(crate) fn fetch(&self, limit: u32) -> u32 {
        (limit + self.skip as u32).min(MAX_LIMIT)
    }

    /// The cursor for what follows once `shown` more items (after the skipped ones) were shown
    /// out of a fetched page of `fetched` items whose own next cursor is `page_next`.
    pub(crate) fn next(
        &self,
        shown: usize,
        fetched: usize,
        page_next: Option<String>,
    ) -> Option<String> {
        if self.skip + shown >= fetched {
            page_next
        } else {
            Some(format!(
                "~{}~{}",
                self.skip + shown,
                self.after.as_deref().unwrap_or("")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_cursors_round_trip() {
        let r = Resume::parse(None).unwrap();
        assert_eq!(
            r,
            Resume {
                after: None,
                skip: 0
            }
        );
        assert_eq!(r.next(20, 20, Some("c1".into())).as_deref(), Some("c1"));
        assert_eq!(r.next(5, 20, Some("c1".into())).as_deref(), Some("~5~"));
        let r = Resume::parse(Some("~5~")).unwrap();
        assert_eq!(
            r,
            Resume {
                after: None,
                skip: 5
            }
        );
        assert_eq!(r.fetch(20), 25);
        assert_eq!(r.next(3, 25, Some("c1".into())).as_deref(), Some("~8~"));
        let r = Resume::parse(Some("~8~abc=")).unwrap();
        assert_eq!((r.after.as_deref(), r.skip), (Some("abc="), 8));
        assert_eq!(
            Resume::parse(Some("abc=")).unwrap().after.as_deref(),
            Some("abc=")
        );
        assert_eq!(Resume::parse(Some("~x~")), Err(BadCursor::Malformed));
        assert_eq!(Resume::parse(Some("~500~a")), Err(BadCursor::Malformed));
        assert_eq!(Resume::parse(Some("a\u{7}")), Err(BadCursor::Foreign));
    }

    struct Line(String);
    impl Rows for Line {
        fn rows(items: &[Self]) -> (Vec<String>, Vec<usize>) {
            one_row_each(items, |l| l.0.clone())
        }
    }

    #[test]
    fn a_page_is_cut_at_an_item_with_a_cursor_that_continues_inside_it() {
        let page: Page<usize> = serde_json::from_value(serde_json::json!({
            "data": (0..100).collect::<Vec<_>>(),
            "page_info": {"end_cursor": "next", "has_next_page": true}
        }))
        .unwrap();
        let resume = Resume {
            after: Some("abc".into()),
            skip: 10,
        };
        let l = paginate(&resume, page.clone(), |i| {
            Line(format!("{i:03} {}", "x".repeat(500)))
        });
        assert!(l.cut && l.body.len() <= TEXT_BUDGET - FRAME_BYTES);
        assert_eq!(l.items[0].0[..3], *"010");
        let shown = l.items.len();
        assert_eq!(l.next_cursor, Some(format!("~{}~abc", 10 + shown)));
        let small = |i: usize| Line(i.to_string());
        let l = paginate(&resume, page, small);
        assert!(!l.cut && l.items.len() == 90);
        assert_eq!(l.next_cursor.as_deref(), Some("next"));
    }
}
