//! Read models for pages and feeds: the profile's posts, one post with its thread, a hashtag.
//! Who may see what is decided here, once.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{Post, Visibility};
use crate::store::{PostPage, Read};

pub const PAGE: usize = 20;
const MAX_ANCESTORS: usize = 40;
const MAX_REPLIES: usize = 500;
const MAX_DEPTH: usize = 30;

/// Who is looking: the owner sees everything; visitors see what is addressed to the world.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Owner,
    Public,
}

pub fn can_see(viewer: Viewer, p: &Post) -> bool {
    viewer == Viewer::Owner || p.visibility.is_world_readable()
}

/// The profile: public and unlisted posts for visitors (as on Mastodon), everything for the owner.
pub fn profile(app: &App, viewer: Viewer, before: Option<u64>) -> Result<PostPage> {
    app.store.read(|r| profile_in(r, viewer, before))
}

/// `profile` in the request's read transaction `r`.
pub fn profile_in(r: &Read, viewer: Viewer, before: Option<u64>) -> Result<PostPage> {
    r.own_posts(before, PAGE, |p| can_see(viewer, p))
}

/// Feeds carry public posts only.
pub fn feed(app: &App, before: Option<u64>) -> Result<PostPage> {
    app.store.read(|r| r.own_posts(before, PAGE, |p| p.visibility == Visibility::Public))
}

pub fn post(app: &App, viewer: Viewer, id: u64) -> Result<Post> {
    app.store.read(|r| post_in(app, r, viewer, id))
}

/// `post` in the request's read transaction `r`.
pub fn post_in(app: &App, r: &Read, viewer: Viewer, id: u64) -> Result<Post> {
    match r.post(id)? {
        Some(p) if can_see(viewer, &p) => Ok(p),
        Some(_) => Err(Error::NotFound),
        None => {
            let uri = app.urls.post_uri(id);
            if r.deleted_at(&uri)?.is_some() { Err(Error::Gone) } else { Err(Error::NotFound) }
        }
    }
}

pub struct Reply {
    pub post: Post,
    pub depth: usize,
}

pub struct Thread {
    /// Oldest first.
    pub ancestors: Vec<Post>,
    /// The first parent we do not have, if the chain stops at one.
    pub missing_parent: Option<crate::model::HttpUrl>,
    pub post: Post,
    /// Depth-first, so a reply to a reply follows its parent.
    pub replies: Vec<Reply>,
}

pub fn thread(app: &App, viewer: Viewer, id: u64) -> Result<Thread> {
    app.store.read(|r| thread_in(app, r, viewer, id))
}

/// `thread` in the request's read transaction `r`.
pub fn thread_in(app: &App, r: &Read, viewer: Viewer, id: u64) -> Result<Thread> {
    let post = post_in(app, r, viewer, id)?;
    {
        let mut ancestors = Vec::new();
        let mut missing_parent = None;
        let mut next = post.in_reply_to.clone();
        while let Some(uri) = next.take() {
            if ancestors.len() >= MAX_ANCESTORS {
                break;
            }
            match r.post_by_uri(&uri)? {
                Some(p) if can_see(viewer, &p) => {
                    next = p.in_reply_to.clone();
                    ancestors.push(p);
                }
                _ => missing_parent = Some(uri),
            }
        }
        ancestors.reverse();
        let mut replies = Vec::new();
        // Explicit stack instead of recursion: depth and total are bounded.
        let mut stack: Vec<(String, usize)> = vec![(post.uri.to_string(), 0)];
        while let Some((uri, depth)) = stack.pop() {
            if depth >= MAX_DEPTH {
                continue;
            }
            let children = r.replies(&uri, MAX_REPLIES)?;
            let mut pending: Vec<(String, usize)> = Vec::new();
            for c in children.into_iter().filter(|c| can_see(viewer, c)) {
                if replies.len() >= MAX_REPLIES {
                    break;
                }
                pending.push((c.uri.to_string(), depth + 1));
                replies.push(Reply { post: c, depth });
            }
            // Children need to come right after their parent: re-order by walking again below.
            stack.extend(pending.into_iter().rev());
        }
        Ok(Thread { ancestors, missing_parent, post: post.clone(), replies: order_depth_first(replies, &post.uri) })
    }
}

/// Rebuilds depth-first order (parent, its replies, next sibling...) from the collected set.
fn order_depth_first(mut all: Vec<Reply>, root: &str) -> Vec<Reply> {
    let mut out = Vec::with_capacity(all.len());
    fn walk(parent: &str, all: &mut Vec<Reply>, out: &mut Vec<Reply>) {
        let mut children: Vec<Reply> = Vec::new();
        let mut i = 0;
        while i < all.len() {
            if all[i].post.in_reply_to.as_deref() == Some(parent) {
                children.push(all.swap_remove(i));
            } else {
                i += 1;
            }
        }
        children.sort_by_key(|c| c.post.id);
        for c in children {
            let uri = c.post.uri.clone();
            out.push(c);
            walk(&uri, all, out);
        }
    }
    walk(root, &mut all, &mut out);
    out
}

pub fn tag(app: &App, viewer: Viewer, tag: &str, before: Option<u64>) -> Result<PostPage> {
    app.store.read(|r| tag_in(r, viewer, tag, before))
}

/// `tag` in the request's read transaction `r`.
pub fn tag_in(r: &Read, viewer: Viewer, tag: &str, before: Option<u64>) -> Result<PostPage> {
    let tag = tag.to_lowercase();
    r.tagged(&tag, before, PAGE, |p| if viewer == Viewer::Owner { true } else { p.visibility == Visibility::Public })
}

/// The owner's public posts with a hashtag, newest first (the tag's feeds).
pub fn tag_feed(app: &App, tag: &str, before: Option<u64>) -> Result<PostPage> {
    app.store.read(|r| r.tagged(&tag.to_lowercase(), before, PAGE, |p| p.local && p.visibility == Visibility::Public))
}

/// Whether a home entry shows on home: members of exclusive lists are read in their list, not
/// here. (Blocks, mutes and filters are the Screener's, applied on top.)
pub fn on_home(app: &App, e: &crate::model::HomeEntry, p: &Post) -> bool {
    app.store.read(|r| Ok(on_home_in(r, e, p))).unwrap_or(false)
}

/// `on_home` in the request's read transaction `r`.
pub fn on_home_in(r: &Read, e: &crate::model::HomeEntry, p: &Post) -> bool {
    let who = e.boosted_by.as_deref().unwrap_or(&p.author);
    !r.in_exclusive_list(who).unwrap_or(false)
}

/// Blocked and muted accounts do not notify, nor do posts in a thread the owner muted.
pub fn notification_shown(app: &App, n: &crate::model::Notification, now_ms: u64) -> bool {
    app.store.read(|r| Ok(notification_shown_in(r, n, now_ms))).unwrap_or(false)
}

/// `notification_shown` in the request's read transaction `r`.
pub fn notification_shown_in(r: &Read, n: &crate::model::Notification, now_ms: u64) -> bool {
    let shown = || -> Result<bool> {
        let thread_muted = match &n.post_uri {
            Some(u) => r.is_thread_muted(&r.thread_root(u, THREAD_HOPS)?)?,
            None => false,
        };
        Ok(!thread_muted && !r.is_blocked(&n.actor)? && !r.is_muted(&n.actor, now_ms)?)
    };
    shown().unwrap_or(false)
}

/// Parents followed up to find a thread's root (muting a conversation).
pub const THREAD_HOPS: usize = 32;

/// Mutes or unmutes the thread `p` is in (Mastodon's `POST /api/v1/statuses/:id/mute`): its
/// notifications stop showing; the posts themselves still do.
pub fn mute_thread(app: &App, p: &Post, mute: bool) -> Result<()> {
    let now = crate::time::now_ms();
    let root = app.store.read(|r| r.thread_root(p.uri.as_str(), THREAD_HOPS))?;
    app.store.write(|w| w.mute_thread(&root, mute, now))
}

/// Whether the thread `p` is in is muted.
pub fn thread_muted(app: &App, p: &Post) -> bool {
    app.store.read(|r| Ok(thread_muted_in(r, p))).unwrap_or(false)
}

/// `thread_muted` in the request's read transaction `r`.
/// The walk starts at `p`'s parent: `p` is in hand, so it is not read and decoded again (issue
/// 15: that second decode was a tenth of an API timeline page).
pub fn thread_muted_in(r: &Read, p: &Post) -> bool {
    let root = match &p.in_reply_to {
        Some(parent) => r.thread_root(parent.as_str(), THREAD_HOPS - 1),
        None => Ok(p.uri.to_string()),
    };
    root.and_then(|root| r.is_thread_muted(&root)).unwrap_or(false)
}
