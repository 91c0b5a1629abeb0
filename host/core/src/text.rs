//! Small text helpers shared by the sandbox and the output formats.

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with "…".
pub fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut cut = max.saturating_sub(3);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut]).into()
}

/// The closest candidate to `word` by edit distance, if any is close enough to suggest.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|c| {
            let d = strsim::damerau_levenshtein(word, c);
            // "critical" for "crit", "resp" for "response_time": a prefix is a strong hint.
            let prefix = word.len().min(c.len()) >= 3 && (word.starts_with(c) || c.starts_with(word));
            (d <= 2.max(c.len() / 3) || prefix).then_some((if prefix { 0 } else { d }, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or "".
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(word, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

/// The lowercase hex sha256 of `bytes`: how plugins are pinned and identified.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo wörld", 6), "hé…");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("tmeout", ["timeout", "target"]), Some("timeout"));
        assert_eq!(closest("zzzzzz", ["timeout", "target"]), None);
        assert_eq!(closest("critical", ["warn", "crit"]), Some("crit"));
    }
}
