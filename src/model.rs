//! The records pipit keeps: what a post and the owner's profile are. Stored as JSON in redb
//! (store/), turned into pages by render/ and into ActivityPub by federation/.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, listed on the profile and in feeds.
    #[default]
    Public,
    /// Everyone with the link; kept off feeds and public timelines.
    Unlisted,
    /// Followers only.
    Followers,
    /// Mentioned people only.
    Direct,
}

impl Visibility {
    pub fn parse(s: &str) -> Option<Visibility> {
        Some(match s {
            "public" => Visibility::Public,
            "unlisted" => Visibility::Unlisted,
            "followers" | "private" => Visibility::Followers,
            "direct" => Visibility::Direct,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Followers => "followers",
            Visibility::Direct => "direct",
        }
    }
    /// Anyone may open it by URL (public and unlisted).
    pub fn is_world_readable(self) -> bool {
        matches!(self, Visibility::Public | Visibility::Unlisted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// `@user@host`
    pub name: String,
    /// Actor URL (or profile URL until it is resolved).
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Public URL of the file.
    pub url: String,
    pub media_type: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Time-sortable local id (ids.rs); the store key.
    pub id: u64,
    /// ActivityPub id. For the owner's posts, minted by urls.rs.
    pub uri: String,
    /// HTML page of the post.
    pub url: String,
    /// Actor id of the author.
    pub author: String,
    /// True for the owner's own posts.
    pub local: bool,
    /// Sanitised HTML in Mastodon's allowed subset.
    pub content: String,
    /// What the owner typed (own posts), for editing.
    #[serde(default)]
    pub source: String,
    /// Content warning; empty means none.
    #[serde(default)]
    pub summary: String,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    pub published_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ms: Option<u64>,
    /// Lower-case hashtag names without '#'.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub mentions: Vec<Mention>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProfileField {
    pub name: String,
    pub value: String,
}

/// The owner's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Profile {
    pub display_name: String,
    /// Plain text as typed; rendered to HTML when shown.
    pub bio: String,
    #[serde(default)]
    pub fields: Vec<ProfileField>,
    /// File name under DATA/media.
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    /// When the account was created (ms).
    #[serde(default)]
    pub created_ms: u64,
}
