//! Post templates of posting.json: `{creator}`, `{platform}`, `{title}` and `{url}` filled in from
//! a go-live or a clip. A placeholder with no value becomes empty, and the spaces it leaves are
//! collapsed, so a stream without a title still reads well. Unknown placeholders are refused by
//! `validate-config` ([`unknown_placeholder`]), so rendering (by routing) never has to guess.

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["creator", "platform", "title", "url"];

/// Values for one post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values<'a> {
    pub creator: &'a str,
    pub platform: &'a str,
    pub title: Option<&'a str>,
    pub url: Option<&'a str>,
}

impl Values<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "creator" => Some(self.creator),
            "platform" => Some(self.platform),
            "title" => self.title,
            "url" => self.url,
            _ => None,
        }
    }
}

/// The first unknown placeholder in `template`, if any.
pub fn unknown_placeholder(template: &str) -> Option<&str> {
    placeholders(template).find(|name| !PLACEHOLDERS.contains(name))
}

fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| {
        let end = rest.find('}')?;
        let name = &rest[..end];
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then_some(name)
    })
}

/// Fills `template` with `values`; runs of spaces left by empty values collapse to one.
pub fn render(template: &str, values: &Values<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if PLACEHOLDERS.contains(&&after[..close]) => {
                out.push_str(values.get(&after[..close]).unwrap_or_default());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    let mut collapsed = String::with_capacity(out.len());
    for word in out.split(' ').filter(|w| !w.is_empty()) {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values() -> Values<'static> {
        Values {
            creator: "Demo",
            platform: "twitch",
            title: Some("Chess night"),
            url: Some("https://twitch.tv/demo"),
        }
    }

    #[test]
    fn fills_every_placeholder() {
        assert_eq!(
            render("{creator} is live on {platform}: {title} {url}", &values()),
            "Demo is live on twitch: Chess night https://twitch.tv/demo"
        );
    }

    #[test]
    fn a_missing_title_leaves_no_double_space() {
        let v = Values {
            title: None,
            ..values()
        };
        assert_eq!(
            render("{creator} live: {title} {url}", &v),
            "Demo live: https://twitch.tv/demo"
        );
    }

    #[test]
    fn unknown_placeholders_are_found_and_kept_verbatim() {
        assert_eq!(unknown_placeholder("{creator} {titel}"), Some("titel"));
        assert_eq!(unknown_placeholder("{creator} {} {url}"), None);
        assert_eq!(render("a {titel} b", &values()), "a {titel} b");
    }

    proptest! {
        #[test]
        fn rendering_never_panics(template in "\\PC{0,64}") {
            let _ = render(&template, &values());
            let _ = unknown_placeholder(&template);
        }
    }
}
