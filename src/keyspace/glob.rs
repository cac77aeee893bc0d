//! Redis's glob-style pattern matching (`stringmatchlen`).

/// Matches `text` against a Redis glob `pattern` (`*`, `?`, `[a-z]`, `[^x]`, `\x`).
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    todo!()
}
