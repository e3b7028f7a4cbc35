//! The `local` destination: the clip stays in the output directory.
//!
//! Its link is `{public_url_base}/{file}` when the directory is served somewhere, else the file's
//! path relative to the runtime root (`clips/output/AbC123.mp4`).

/// The link of `file` (a name in the output directory).
pub fn link(public_url_base: Option<&str>, output_dir: &str, file: &str) -> String {
    match public_url_base {
        Some(base) => format!("{}/{file}", base.trim_end_matches('/')),
        None => format!("{}/{file}", output_dir.trim_end_matches('/')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_use_the_public_base_when_there_is_one() {
        assert_eq!(
            link(
                Some("https://cdn.example/clips/"),
                "clips/output",
                "AbC123.mp4"
            ),
            "https://cdn.example/clips/AbC123.mp4"
        );
        assert_eq!(
            link(None, "clips/output", "AbC123.jpg"),
            "clips/output/AbC123.jpg"
        );
    }
}
