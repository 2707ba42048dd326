//! Lazy streams over list methods: every list builder has `.pages()` and `.items()`.

use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt, stream};

use crate::{Error, PageLoop, Result};

/// A page of a list response.
pub trait Page {
    /// What the page lists.
    type Item;

    /// The token for the next page; absent or empty on the last one.
    fn next_page_token(&self) -> Option<&str>;

    /// Whether the page lists nothing.
    fn is_empty(&self) -> bool;

    /// The page's items.
    fn into_items(self) -> Vec<Self::Item>;
}

/// A list call that can be resent for the next page.
pub trait Paginate: Clone + Send + 'static {
    /// The method's response.
    type Page: Page + Send;

    /// The method id, for errors.
    const METHOD_ID: &'static str;

    /// Asks for the page after the one `token` came with.
    fn set_page_token(&mut self, token: String);

    /// Sends the call for one page. It borrows the call, so that the next page's call is this
    /// one with another page token, not a copy of it.
    fn send_page(&self) -> impl Future<Output = Result<Self::Page>> + Send;

    /// How many empty pages in a row, each naming a next page, are read before the stream
    /// ends with [`Error::PageLoop`].
    fn max_empty_pages(&self) -> u32 {
        crate::DEFAULT_MAX_EMPTY_PAGES
    }
}

struct State<P> {
    next: Option<P>,
    guard: PageGuard,
    /// An error to end the stream with, after the page already fetched.
    failed: Option<Error>,
}

/// The guards against a list that would not end, for every way of reading pages: a token the
/// server sent before, and a run of empty pages that each name a next page. [`pages`] and
/// [`items`] keep one per listing; so does the roster sync, and so should code that reads
/// pages by hand (in batches, say).
#[derive(Debug)]
pub struct PageGuard {
    seen: Seen,
    /// Empty pages in a row that named a next page.
    empty_run: u32,
    max_empty: u32,
}

impl PageGuard {
    /// A guard for one listing that allows `max_empty_pages` empty pages in a row, each naming
    /// a next page (the client's is
    /// [`ClassroomBuilder::max_empty_pages`](crate::ClassroomBuilder::max_empty_pages)).
    pub fn new(max_empty_pages: u32) -> Self {
        PageGuard {
            seen: Seen::new(),
            empty_run: 0,
            max_empty: max_empty_pages,
        }
    }

    /// A guard for the pages of `call`, with its client's limit of empty pages.
    pub fn for_call<P: Paginate>(call: &P) -> Self {
        PageGuard::new(call.max_empty_pages())
    }

    /// [`next_token`](PageGuard::next_token) for a page of `P`'s method, failing with the
    /// [`Error::PageLoop`] the SDK's streams end with.
    pub fn next_page<'p, P: Paginate>(&mut self, page: &'p P::Page) -> Result<Option<&'p str>> {
        self.next_token(page.is_empty(), page.next_page_token())
            .map_err(|kind| Error::PageLoop {
                method: P::METHOD_ID,
                kind,
            })
    }

    /// Notes a page that listed nothing when `empty` and named `token` as the next: gives the
    /// token to ask for next, none after the last page (no token, or an empty one), or how
    /// the list failed to end.
    pub fn next_token<'t>(
        &mut self,
        empty: bool,
        token: Option<&'t str>,
    ) -> std::result::Result<Option<&'t str>, PageLoop> {
        let token = token.filter(|t| !t.is_empty());
        self.empty_run = match (empty, token) {
            (true, Some(_)) => self.empty_run.saturating_add(1),
            _ => 0,
        };
        match token {
            Some(token) if !self.seen.insert(token) => {
                Err(PageLoop::RepeatedToken(token.to_string()))
            }
            Some(_) if self.empty_run >= self.max_empty => {
                Err(PageLoop::EmptyPages(self.empty_run))
            }
            token => Ok(token),
        }
    }
}

/// The page tokens a listing has been sent, as 128-bit fingerprints (two hashes under
/// independent random keys). A set of the tokens themselves kept one small allocation alive per
/// page, interleaved with each page's short-lived ones, and the heap that left behind cost
/// malloc about 7,000 instructions a page, against 1,200 for the set's own work (callgrind).
/// Two different tokens share a fingerprint with a chance of about 2^-128 a pair.
#[derive(Debug)]
struct Seen {
    keys: (RandomState, RandomState),
    fingerprints: HashSet<u128, BuildHasherDefault<Prehashed>>,
}

/// Hashes a fingerprint by half of its bytes: it is already the output of keyed hashes, so
/// hashing it again (the set's default) would only repeat their work.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A fingerprint arrives as its 16 bytes, and any 8 of them are as random as the rest.
        let mut half = [0u8; 8];
        let n = bytes.len().min(8);
        half[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_ne_bytes(half);
    }
}

impl Seen {
    fn new() -> Self {
        Seen {
            keys: (RandomState::new(), RandomState::new()),
            fingerprints: HashSet::default(),
        }
    }

    /// Notes a token; false if it was noted before.
    fn insert(&mut self, token: &str) -> bool {
        let (high, low) = (self.keys.0.hash_one(token), self.keys.1.hash_one(token));
        self.fingerprints
            .insert(u128::from(high) << 64 | u128::from(low))
    }
}

/// Every page, requested one at a time as the stream is polled. The stream ends after the page
/// without a next-page token, or with an error (after which it ends), and stays ended.
///
/// Two kinds of server would keep a list going forever; for both the page is yielded, then
/// [`Error::PageLoop`] ends the stream: a token the server sent before, and a run of
/// [`max_empty_pages`](Paginate::max_empty_pages) empty pages that each name a next page.
pub fn pages<P: Paginate>(call: P) -> impl Stream<Item = Result<P::Page>> + Send {
    let state = State {
        guard: PageGuard::for_call(&call),
        next: Some(call),
        failed: None,
    };
    stream::unfold(state, |mut state| async move {
        if let Some(error) = state.failed.take() {
            return Some((Err(error), state));
        }
        let call = state.next.as_mut()?;
        let page = match call.send_page().await {
            Ok(page) => page,
            Err(e) => {
                state.next = None;
                return Some((Err(e), state));
            }
        };
        match state.guard.next_page::<P>(&page) {
            Ok(Some(token)) => call.set_page_token(token.to_string()),
            Ok(None) => state.next = None,
            Err(e) => {
                state.next = None;
                state.failed = Some(e);
            }
        }
        Some((Ok(page), state))
    })
    // Once ended, it stays ended when polled again (an `unfold` would panic).
    .fuse()
}

/// Every item across all pages.
pub fn items<P: Paginate>(call: P) -> Items<P>
where
    <P::Page as Page>::Item: Send,
{
    Items {
        pages: Box::pin(pages(call)),
        current: Vec::new().into_iter(),
    }
}

/// Every item across a list's pages, from a list call's `items()`: a [`Stream`] that asks
/// for the next page only when the current one is used up, and holds nothing but that page.
///
/// It can be read without pinning. [`try_next`](Items::try_next) is the cheapest way to read
/// it, one item at a time; any of `futures`' stream adapters work too.
///
/// ```no_run
/// # async fn run(classroom: classroom::Classroom) -> classroom::Result<()> {
/// let mut courses = classroom.courses().list().page_size(1000).items();
/// while let Some(course) = courses.try_next().await? {
///     println!("{}", course.name.unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
///
/// Items are handed out straight from each page's vector: a combinator chain (`flat_map` over
/// `stream::iter`) moves every item through several wrappers, which for a large model such as
/// `Course` is a measurable part of listing.
pub struct Items<P: Paginate> {
    pages: Pin<Box<dyn Stream<Item = Result<P::Page>> + Send>>,
    current: std::vec::IntoIter<<P::Page as Page>::Item>,
}

impl<P: Paginate> std::fmt::Debug for Items<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("method", &P::METHOD_ID)
            .field("left_in_page", &self.current.len())
            .finish_non_exhaustive()
    }
}

// Items are moved out of the vector, never pinned in place, so the stream may move freely.
impl<P: Paginate> Unpin for Items<P> {}

impl<P: Paginate> Items<P> {
    /// The next item, or `None` after the last; after an error, `None`. The same as
    /// `futures::TryStreamExt::try_next`, which it stands in for, but each item is moved
    /// once less on its way to the caller: for a 560-byte `Course`, three copies instead of
    /// four.
    #[inline]
    pub fn try_next(&mut self) -> NextItem<'_, P> {
        NextItem { items: self }
    }

    /// The first item of the next page that has one.
    #[inline(never)]
    fn next_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<<P::Page as Page>::Item>>> {
        // The spent page's vector goes before the next page is read and decoded, as it does
        // in a loop over each page's vector; kept, it would raise the peak by a page of items.
        self.current = Vec::new().into_iter();
        loop {
            match std::task::ready!(self.pages.as_mut().poll_next(cx)) {
                Some(Ok(page)) => self.current = page.into_items().into_iter(),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
            if let Some(item) = self.current.next() {
                return Poll::Ready(Some(Ok(item)));
            }
        }
    }
}

impl<P: Paginate> Stream for Items<P> {
    type Item = Result<<P::Page as Page>::Item>;

    // Small enough to inline into the caller's loop, which then takes each item straight from
    // the vector; fetching the next page is out of line.
    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.current.next() {
            Some(item) => Poll::Ready(Some(Ok(item))),
            None => self.next_page(cx),
        }
    }
}

/// The future of [`Items::try_next`].
#[must_use = "futures do nothing unless polled"]
pub struct NextItem<'a, P: Paginate> {
    items: &'a mut Items<P>,
}

impl<P: Paginate> Future for NextItem<'_, P> {
    type Output = Result<Option<<P::Page as Page>::Item>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let items = &mut *self.get_mut().items;
        match items.current.next() {
            Some(item) => Poll::Ready(Ok(Some(item))),
            None => items.next_page(cx).map(Option::transpose),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PageGuard, PageLoop, Seen};

    #[test]
    fn a_guard_ends_a_list_at_its_last_page_or_at_a_loop() {
        let mut guard = PageGuard::new(3);
        assert_eq!(guard.next_token(false, Some("a")), Ok(Some("a")));
        assert_eq!(
            guard.next_token(false, Some("")),
            Ok(None),
            "an empty token ends"
        );
        assert_eq!(guard.next_token(false, None), Ok(None));
        assert_eq!(
            guard.next_token(false, Some("a")),
            Err(PageLoop::RepeatedToken("a".into()))
        );

        // Empty pages naming a next page: the third in a row ends the list; a page with items,
        // or an empty last page, breaks the run.
        let mut guard = PageGuard::new(3);
        assert_eq!(guard.next_token(true, Some("1")), Ok(Some("1")));
        assert_eq!(guard.next_token(true, Some("2")), Ok(Some("2")));
        assert_eq!(guard.next_token(false, Some("3")), Ok(Some("3")));
        assert_eq!(guard.next_token(true, Some("4")), Ok(Some("4")));
        assert_eq!(guard.next_token(true, None), Ok(None));
        assert_eq!(guard.next_token(true, Some("5")), Ok(Some("5")));
        assert_eq!(guard.next_token(true, Some("6")), Ok(Some("6")));
        assert_eq!(
            guard.next_token(true, Some("7")),
            Err(PageLoop::EmptyPages(3))
        );
    }

    #[test]
    fn a_token_is_seen_again_only_when_it_was_noted_before() {
        let mut seen = Seen::new();
        let tokens: Vec<String> = (0..50_000).map(|i| format!("page{i}")).collect();
        assert!(
            tokens.iter().all(|t| seen.insert(t)),
            "no distinct token flagged"
        );
        assert!(!seen.insert("page0") && !seen.insert("page49999"));
        assert!(seen.insert("page50000") && seen.insert(""));
        assert!(!seen.insert(""));
    }
}
