//! Following a paginated read to its last page, with the checks the SDK's paginators lack.
//!
//! The requests are sent by the SDK's generated paginators (`into_paginator().send()`, one
//! request per page, lazily: the stream's rendezvous channel, aws-smithy-async 1.3.1
//! `src/future/rendezvous.rs`, holds the paginator at `tx.send(page)` until the next page is
//! asked for, so no request goes out ahead of the reader).
//! This module reads their pages, counts each one, and decides whether to ask for another.
//!
//! # What the generated paginators check, and what they do not
//! Read in aws-sdk-iam 1.133.0 `src/operation/get_group/paginator.rs` (`GetGroupPaginator::send`;
//! the same generated code serves ListGroupsForUser, ListRoles, and in aws-sdk-eks 1.160.0
//! ListAccessEntries and ListAssociatedAccessPolicies):
//! - They stop at the first error, after handing it over (line 100: `Err(_) => true`).
//! - They stop when the next token is missing or empty
//!   (line 92: `new_token.map(|token| token.is_empty()).unwrap_or(true)`).
//! - With `stop_on_duplicate_token` (default `true`, line 15) they *stop quietly*, without an
//!   error, when the service returns the token it was just sent (line 93:
//!   `!is_empty && new_token == input.marker.as_ref() && self.stop_on_duplicate_token`).
//! - They never look at IAM's `IsTruncated`: a page with `IsTruncated: true` and no `Marker`
//!   ends the stream as if it were the last page, and one with `IsTruncated: false` and a
//!   `Marker` would be followed.
//! - They have no limit on the number of pages.
//!
//! A quiet stop on a broken page would hand the caller part of a list as if it were the whole
//! of it (members missing from a group, access entries missing from a cluster). So
//! [`read_pages`] keeps these checks of its own, and fails with [`PagingError::Broken`]:
//! - a page that says more follow (IAM: `IsTruncated`) without a token (IAM only: EKS says
//!   "more" by the token itself);
//! - a page that repeats the token it was asked with (checked before the paginator's quiet
//!   stop could end the stream);
//! - more than [`MAX_PAGES`] pages.
//!
//! And it stops where the service says the last page is (IAM: `IsTruncated: false`), whatever
//! token that page carries, so no request is made that the hand-written loops did not make.
//!
//! It does not send requests, retry (the SDK client does), or turn SDK errors into typed ones
//! (each adapter does, naming its operation and entity).

use futures::{Stream, StreamExt};

/// More pages than this for one read means the service (or a stand-in) is looping.
pub(crate) const MAX_PAGES: u32 = 10_000;

/// A page of a paginated response: whether another page follows, and the token asking for it.
pub(crate) trait Page {
    /// The response field carrying the next token (`Marker`, `nextToken`), for messages.
    const TOKEN: &'static str;
    /// What the page says when more follow (`IsTruncated is true`), for messages.
    const MORE: &'static str;

    /// `(more, token)`: whether the service says another page follows, and its token.
    fn next_page(&self) -> (bool, Option<&str>);
}

/// Why a paginated read failed.
#[derive(Debug)]
pub(crate) enum PagingError<E> {
    /// A request failed (the SDK's error, after its retries).
    Request(E),
    /// A page broke the pagination rules; the text says how.
    Broken(String),
}

/// Reads every page of `pages`, giving each to `take` in order; `count` is called once per
/// page received, that is once per request sent. Stops at the last page, at the first failed
/// request, or at the first broken page (see the module doc), and never asks for a page
/// after that, so a partial read is always an error.
///
/// `pages` is the paginator's stream: `futures::stream::poll_fn(move |cx| stream.poll_next(cx))`
/// over `into_paginator().send()` (a `PaginationStream` is no `futures::Stream` itself).
pub(crate) async fn read_pages<P, E>(
    pages: impl Stream<Item = Result<P, E>>,
    count: impl Fn(),
    mut take: impl FnMut(P),
) -> Result<(), PagingError<E>>
where
    P: Page,
{
    let mut pages = std::pin::pin!(pages);
    let mut sent_token: Option<String> = None;
    let mut read: u32 = 0;
    while let Some(page) = pages.next().await {
        count();
        read += 1;
        let page = page.map_err(PagingError::Request)?;
        let next = check(&page, sent_token.as_deref(), read)?;
        take(page);
        match next {
            Some(token) => sent_token = Some(token),
            None => return Ok(()),
        }
    }
    // Only reached if the paginator ended the stream on a page that `check` let pass, which
    // its stop rules (above) do not allow; nothing was lost, every page was taken.
    Ok(())
}

/// The token of the next page, `None` after the last page, or why the page is broken.
fn check<P: Page, E>(
    page: &P,
    sent_token: Option<&str>,
    read: u32,
) -> Result<Option<String>, PagingError<E>> {
    let (more, token) = page.next_page();
    if !more {
        return Ok(None);
    }
    let why = match token {
        None | Some("") => format!("{} but there is no {}", P::MORE, P::TOKEN),
        Some(next) if sent_token == Some(next) => {
            format!(
                "{} but the {} did not change (page {read})",
                P::MORE,
                P::TOKEN
            )
        }
        Some(_) if read >= MAX_PAGES => format!("more than {MAX_PAGES} pages"),
        Some(next) => return Ok(Some(next.to_owned())),
    };
    Err(PagingError::Broken(why))
}

/// `impl Page` for response types that read their next page the same way.
macro_rules! pages {
    (token $token:literal, more $more:literal, |$page:ident| $next:expr, $($output:ty),+ $(,)?) => {$(
        impl Page for $output {
            const TOKEN: &'static str = $token;
            const MORE: &'static str = $more;
            fn next_page(&self) -> (bool, Option<&str>) {
                let $page = self;
                $next
            }
        }
    )+};
}

// IAM pages say "more follow" with `IsTruncated` and carry the next `Marker`.
pages!(
    token "Marker",
    more "IsTruncated is true",
    |page| (page.is_truncated(), page.marker()),
    aws_sdk_iam::operation::get_group::GetGroupOutput,
    aws_sdk_iam::operation::list_groups_for_user::ListGroupsForUserOutput,
    aws_sdk_iam::operation::list_roles::ListRolesOutput,
    aws_sdk_iam::operation::list_users::ListUsersOutput,
);

// EKS pages say "more follow" by carrying a non-empty `nextToken`.
pages!(
    token "nextToken",
    more "a nextToken is set",
    |page| {
        let token = page.next_token().filter(|t| !t.is_empty());
        (token.is_some(), token)
    },
    aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput,
    aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput,
);

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(bool, Option<&'static str>);

    impl Page for Fake {
        const TOKEN: &'static str = "Marker";
        const MORE: &'static str = "IsTruncated is true";
        fn next_page(&self) -> (bool, Option<&str>) {
            (self.0, self.1)
        }
    }

    fn why(result: Result<Option<String>, PagingError<()>>) -> String {
        match result {
            Err(PagingError::Broken(why)) => why,
            other => panic!("expected a broken page, got {other:?}"),
        }
    }

    #[test]
    fn the_last_page_ends_the_read_whatever_token_it_carries() {
        assert!(matches!(
            check::<_, ()>(&Fake(false, Some("m")), None, 1),
            Ok(None)
        ));
    }

    #[test]
    fn a_new_token_asks_for_the_next_page() {
        assert_eq!(
            check::<_, ()>(&Fake(true, Some("m2")), Some("m1"), 2).unwrap(),
            Some("m2".to_owned())
        );
    }

    #[test]
    fn broken_pages_say_why() {
        assert_eq!(
            why(check(&Fake(true, None), None, 1)),
            "IsTruncated is true but there is no Marker"
        );
        assert_eq!(
            why(check(&Fake(true, Some("")), None, 1)),
            "IsTruncated is true but there is no Marker"
        );
        assert_eq!(
            why(check(&Fake(true, Some("m")), Some("m"), 2)),
            "IsTruncated is true but the Marker did not change (page 2)"
        );
        assert_eq!(
            why(check(&Fake(true, Some("m")), None, MAX_PAGES)),
            "more than 10000 pages"
        );
    }
}
