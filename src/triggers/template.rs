//! Reply templates: `{user}`, `{args}`, `{count}` and `{platform}` filled in; everything else verbatim.
//!
//! Unknown placeholders stay as written, so a typo shows up in chat instead of vanishing silently.

use crate::event::Platform;

/// Renders `template` for one firing.
pub fn render(template: &str, user: &str, args: &str, count: u64, platform: Platform) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let (value, used): (Option<std::borrow::Cow<'_, str>>, usize) =
            if after.starts_with("{user}") {
                (Some(user.into()), 6)
            } else if after.starts_with("{args}") {
                (Some(args.into()), 6)
            } else if after.starts_with("{count}") {
                (Some(count.to_string().into()), 7)
            } else if after.starts_with("{platform}") {
                (Some(platform.as_str().into()), 10)
            } else {
                (None, 1)
            };
        match value {
            Some(v) => out.push_str(&v),
            None => out.push('{'),
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_placeholders_and_keeps_the_rest() {
        assert_eq!(
            render(
                "{user} said {args} ({count}x on {platform}) {nope} {",
                "Ann",
                "hi there",
                3,
                Platform::named("twitch")
            ),
            "Ann said hi there (3x on twitch) {nope} {"
        );
        assert_eq!(render("pong", "a", "", 1, Platform::named("sim")), "pong");
    }
}
