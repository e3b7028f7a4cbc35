//! The OAuth scopes `ss` uses on Twitch, and what each one enables: the one table `ss auth twitch`
//! asks for by default, the subscription plan and the command support read, and validate-config
//! checks triggers against.

/// Read chat over EventSub (`channel.chat.message`, `.notification`, `.message_delete`,
/// `.clear_user_messages`).
pub const READ_CHAT: &str = "user:read:chat";
/// Send chat through Helix (`POST /chat/messages`).
pub const WRITE_CHAT: &str = "user:write:chat";
/// `channel.follow` v2 (the token's user must be the broadcaster or a moderator).
pub const FOLLOWERS: &str = "moderator:read:followers";
/// `channel.subscribe` (used when the chat subscriptions are not there).
pub const SUBSCRIPTIONS: &str = "channel:read:subscriptions";
/// `channel.cheer` (used when the chat subscriptions are not there).
pub const BITS: &str = "bits:read";
/// `channel.channel_points_custom_reward_redemption.add`.
pub const REDEMPTIONS: &str = "channel:read:redemptions";
/// The other scope that allows redemptions.
pub const MANAGE_REDEMPTIONS: &str = "channel:manage:redemptions";
/// Delete chat messages (`DELETE /moderation/chat`).
pub const DELETE_MESSAGES: &str = "moderator:manage:chat_messages";
/// Time out, ban and unban (`/moderation/bans`).
pub const BANS: &str = "moderator:manage:banned_users";
/// Announcements (`POST /chat/announcements`).
pub const ANNOUNCEMENTS: &str = "moderator:manage:announcements";
/// Read chat over IRC.
pub const IRC_READ: &str = "chat:read";
/// Send chat over IRC.
pub const IRC_EDIT: &str = "chat:edit";

/// Every scope `ss` can use, with what it enables: what `ss auth twitch` asks for when no
/// `--scopes` are given, in this order.
pub const ALL: [(&str, &str); 12] = [
    (READ_CHAT, "read chat over EventSub"),
    (WRITE_CHAT, "send chat and replies through Helix"),
    (FOLLOWERS, "follows"),
    (
        SUBSCRIPTIONS,
        "subscriptions without the chat subscriptions",
    ),
    (BITS, "cheers without the chat subscriptions"),
    (REDEMPTIONS, "channel point redemptions"),
    (DELETE_MESSAGES, "delete messages"),
    (BANS, "time out, ban and unban"),
    (ANNOUNCEMENTS, "announcements"),
    (IRC_READ, "read chat over IRC"),
    (IRC_EDIT, "send chat over IRC"),
    (
        MANAGE_REDEMPTIONS,
        "channel point redemptions (either scope does)",
    ),
];

/// The default scopes of `ss auth twitch`: everything but the second redemptions scope.
pub fn default_scopes() -> Vec<String> {
    ALL.iter()
        .filter(|(scope, _)| *scope != MANAGE_REDEMPTIONS)
        .map(|(scope, _)| (*scope).to_owned())
        .collect()
}

/// Whether `scope` is one Twitch documents for the features above (others are passed on as given).
pub fn is_known(scope: &str) -> bool {
    ALL.iter().any(|(s, _)| *s == scope)
}
