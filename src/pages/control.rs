//! The control page (`/control`): one document with its stylesheet and its one script inline,
//! allowed by their hashes in a strict Content-Security-Policy (no other script, no images,
//! connections only back to this server). The page holds no data: it asks for a control token,
//! keeps it in session storage and sends it only as an `Authorization` header to `/api/v1/` and
//! `/events`. Controls a role may not use are removed from the document once the token's role is
//! known; the script builds chat lines from text only.

use super::csp_hash;
use std::sync::LazyLock;

/// The control page's stylesheet.
pub const CSS: &str = include_str!("../../assets/pages/ss-control.css");
/// The control page's script.
pub const JS: &str = include_str!("../../assets/pages/ss-control.js");

static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(JS),
        csp_hash(CSS)
    )
});

/// The page's Content-Security-Policy.
pub fn content_security_policy() -> &'static str {
    &POLICY
}

/// The whole page.
pub fn render() -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>StreamSuites control</title>
<style>{CSS}</style>
</head>
<body class="ss-control">
<header>
<h1>StreamSuites control</h1>
<span id="live" class="muted">offline</span>
<span id="who"></span>
<form id="login" hidden>
<input id="token" type="password" autocomplete="off" placeholder="Control token" aria-label="Control token">
<button type="submit">Sign in</button>
</form>
<button type="button" id="sign-out">Sign out</button>
<div id="notice" role="alert"></div>
</header>
<main id="app" hidden>
<section id="panel-chat"><h2>Live chat</h2><ul id="chat" aria-live="polite"></ul></section>
<section id="panel-sources"><h2>Sources</h2><ul id="sources"></ul></section>
<section id="panel-obs"><h2>OBS</h2><ul id="obs"></ul></section>
<section id="panel-clip" data-min-role="moderator"><h2>Clip</h2><div class="row"><select id="clip-creator" aria-label="Creator"></select><button type="button" id="clip">Clip the last 30 s</button></div></section>
<section id="panel-triggers"><h2>Triggers</h2><ul id="triggers"></ul></section>
<section id="panel-polls"><h2>Open polls</h2><ul id="polls"></ul></section>
<section id="panel-audit"><h2>Audit log</h2><ul id="audit"></ul></section>
</main>
<script>{JS}</script>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_runs_only_its_own_script_and_never_parses_html() {
        let html = render();
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains(&format!("<script>{JS}</script>")));
        assert!(html.contains(&format!("<style>{CSS}</style>")));
        let policy = content_security_policy();
        assert!(policy.contains(&csp_hash(JS)) && policy.contains(&csp_hash(CSS)));
        assert!(policy.contains("connect-src 'self'") && policy.contains("img-src 'none'"));
        assert!(!policy.contains("unsafe"));
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "?key=",
            "localStorage",
        ] {
            assert!(!JS.contains(banned), "{banned} in ss-control.js");
        }
    }
}
