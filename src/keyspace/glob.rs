//! Redis's glob-style pattern matching: a port of `stringmatchlen` (`util.c`, Redis 7.2) used by
//! KEYS, SCAN MATCH and, later, PSUBSCRIBE.
//!
//! Redis matches recursively: at each `*` it tries the rest of the pattern at every later position
//! of the string. Two guards keep that from exploding, and this port keeps both:
//!
//! - `skipLongerMatches`: once the rest of the pattern after some `*` fails at every position, no
//!   earlier `*` can help by matching more, so the whole match fails at once. With that rule only
//!   the most recent `*` is ever retried, which is exactly the classic iterative matcher below
//!   (remember the last star; on a mismatch, let it swallow one more byte). No recursion, and
//!   O(pattern × text) time.
//! - a nesting limit: the body after the 1001st `*` never matches (Redis's "protection against
//!   abusive patterns"), so `KEYS` with `"*?"` repeated 50,000 times matches nothing, as in Redis.
//!
//! Everything else is Redis's tokenizer, byte for byte, quirks included: `[^...]` negates, `[z-a]`
//! is the range `a-z`, `\x` escapes (inside a class the escaped byte is compared case-sensitively
//! even with `nocase`), an unclosed `[` runs to the end of the pattern, and in `[a-]` the `]` is the
//! end of a range rather than the close of the class. Range bounds compare as C `char`s, signed on
//! x86-64, so bytes >= 0x80 sort below ASCII exactly as on the servers people run Redis on.
//! An empty string matches only the empty pattern (even `*` fails, because Redis's loop never runs
//! for an empty string; KEYS and SCAN special-case the pattern `*` before matching).

/// Redis's bound on nested `*` (`stringmatchlen_impl`'s `nesting > 1000`).
const MAX_STAR_NESTING: usize = 1000;

/// Matches `text` against a Redis glob `pattern` (`*`, `?`, `[a-z]`, `[^x]`, `\x`).
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    if text.is_empty() {
        return pattern.is_empty();
    }
    let mut p = 0;
    let mut s = 0;
    // The latest `*`: where the pattern resumes after it, and where in `text` its match ends.
    let mut last_star: Option<(usize, usize)> = None;
    let mut stars_entered = 0;
    loop {
        // Invariant: s < text.len() here.
        if p < pattern.len() {
            if pattern[p] == b'*' {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true; // a trailing star matches the rest
                }
                stars_entered += 1;
                if stars_entered > MAX_STAR_NESTING {
                    return false;
                }
                p += 1;
                last_star = Some((p, s));
                continue;
            }
            if let Some(next) = match_one(pattern, p, text[s], nocase) {
                p = next;
                s += 1;
                if s < text.len() {
                    continue;
                }
                // Text used up: only stars may remain.
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
            }
        }
        // Mismatch: let the latest star swallow one more byte. Redis only retries the rest of the
        // pattern against a non-empty remainder of the string.
        match last_star {
            Some((star_p, star_s)) if star_s + 1 < text.len() => {
                last_star = Some((star_p, star_s + 1));
                p = star_p;
                s = star_s + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the single-byte token at `pattern[p]` (not `*`) against `byte`; returns the index of
/// the next token on a match.
fn match_one(pattern: &[u8], p: usize, byte: u8, nocase: bool) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, byte, nocase),
        b'\\' if pattern.len() - p >= 2 => {
            bytes_equal(pattern[p + 1], byte, nocase).then_some(p + 2)
        }
        literal => bytes_equal(literal, byte, nocase).then_some(p + 1),
    }
}

/// Matches a `[...]` class whose body starts at `pattern[q]`; returns the index after it.
fn match_class(pattern: &[u8], mut q: usize, byte: u8, nocase: bool) -> Option<usize> {
    let negate = q < pattern.len() && pattern[q] == b'^';
    if negate {
        q += 1;
    }
    let mut matched = false;
    let end = loop {
        let remaining = pattern.len() - q;
        if remaining == 0 {
            break pattern.len(); // unclosed: the class runs to the end of the pattern
        }
        let token = pattern[q];
        if token == b'\\' && remaining >= 2 {
            q += 1;
            // Redis compares an escaped class member case-sensitively even with nocase.
            if pattern[q] == byte {
                matched = true;
            }
        } else if token == b']' {
            break q + 1;
        } else if remaining >= 3 && pattern[q + 1] == b'-' {
            let (mut low, mut high) = (as_c_char(token), as_c_char(pattern[q + 2]));
            let mut c = as_c_char(byte);
            if low > high {
                std::mem::swap(&mut low, &mut high);
            }
            if nocase {
                (low, high, c) = (c_tolower(low), c_tolower(high), c_tolower(c));
            }
            if low <= c && c <= high {
                matched = true;
            }
            q += 2;
        } else if bytes_equal(token, byte, nocase) {
            matched = true;
        }
        q += 1;
    };
    (matched != negate).then_some(end)
}

fn bytes_equal(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// A byte as C's (signed, on x86-64) `char` promoted to `int`.
fn as_c_char(byte: u8) -> i32 {
    byte as i8 as i32
}

/// C's `tolower` in the C locale: ASCII only; other values (including negative chars) unchanged.
fn c_tolower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool, bool)] = &[
            // (pattern, text, nocase, expected)
            ("", "", false, true),
            ("*", "", false, false),
            ("", "a", false, false),
            ("*", "anything", false, true),
            ("**", "x", false, true),
            ("a*", "a", false, true),
            ("*a", "a", false, true),
            ("*a", "ba", false, true),
            ("*a", "ab", false, false),
            ("a*b", "ab", false, true),
            ("a*b", "axxxb", false, true),
            ("a*b", "axxxbc", false, false),
            ("a*b*", "axxxbc", false, true),
            ("foo*", "foobar", false, true),
            ("foo*", "fo", false, false),
            ("?", "a", false, true),
            ("?", "", false, false),
            ("??", "a", false, false),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("h[ae]llo", "hello", false, true),
            ("h[ae]llo", "hallo", false, true),
            ("h[ae]llo", "hillo", false, false),
            ("h[^e]llo", "hallo", false, true),
            ("h[^e]llo", "hello", false, false),
            ("h[a-b]llo", "hbllo", false, true),
            ("h[a-b]llo", "hcllo", false, false),
            ("[z-a]", "m", false, true), // a range given backwards
            ("[z-a]", "A", false, false),
            ("[a\\]]", "]", false, true),
            ("[a\\]]", "a", false, true),
            ("[a\\]]", "b", false, false),
            ("[]", "a", false, false), // empty class matches nothing
            ("[^]", "a", false, true),
            ("[abc", "b", false, true), // unclosed class runs to the end
            ("[abc", "bx", false, false),
            ("[a-]", "_", false, true), // "[a-]" is the range ']'..'a', still unclosed
            ("[a-]", "-", false, false),
            ("[", "a", false, false),
            ("[^", "a", false, true),
            ("\\*", "*", false, true),
            ("\\*", "a", false, false),
            ("\\?", "?", false, true),
            ("a\\", "a\\", false, true), // a trailing backslash is a literal
            ("\\[a]", "[a]", false, true),
            ("HeLLo", "hello", true, true),
            ("HeLLo", "hello", false, false),
            ("h[A-Z]llo", "hello", true, true),
            ("h[A-Z]llo", "hello", false, false),
            ("[E]", "e", true, true),
            ("[\\E]", "e", true, false), // escaped class member: case-sensitive
            ("\\E", "e", true, true),    // escaped literal outside a class honours nocase
            ("*.txt", "notes.txt", false, true),
            ("user:*:name", "user:42:name", false, true),
            ("user:*:name", "user:42:email", false, false),
        ];
        for &(pattern, text, nocase, expected) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes(), nocase),
                expected,
                "pattern {pattern:?} text {text:?} nocase {nocase}"
            );
        }
    }

    #[test]
    fn high_bytes_compare_as_signed_chars() {
        // 'a' (97) .. 0xff (-1 as a signed char): swapped to -1..97, so 0xff and ASCII below 'a'
        // match while 0x80 (-128) does not.
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"0", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(glob_match(b"\xc3\xa9*", b"\xc3\xa9t\xc3\xa9", false));
    }

    #[test]
    fn nested_stars_stay_polynomial() {
        // Redis's regression tests: exponential without skipLongerMatches.
        let text = "a".repeat(60);
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes(), false));
        let text = "a".repeat(20_000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes(), false));
    }

    #[test]
    fn star_nesting_limit_matches_redis() {
        // Each "*?" consumes at least one byte, so these would match without the limit.
        let matching = "*?".repeat(MAX_STAR_NESTING);
        assert!(glob_match(
            matching.as_bytes(),
            "a".repeat(MAX_STAR_NESTING).as_bytes(),
            false
        ));
        let too_deep = "*?".repeat(MAX_STAR_NESTING + 1);
        let text = "a".repeat(MAX_STAR_NESTING + 1);
        assert!(!glob_match(too_deep.as_bytes(), text.as_bytes(), false));
        // Redis's "very long nested loops" regression: 50,000 of them, answered at once.
        let huge = "*?".repeat(50_000);
        assert!(!glob_match(
            huge.as_bytes(),
            "a".repeat(50_000).as_bytes(),
            false
        ));
        // A trailing star after 1000 others still matches: it returns before nesting deeper.
        let trailing = format!("{}*", "?*".repeat(MAX_STAR_NESTING));
        let text = "a".repeat(MAX_STAR_NESTING + 5);
        assert!(glob_match(trailing.as_bytes(), text.as_bytes(), false));
    }

    /// A line-by-line transliteration of Redis's recursive `stringmatchlen_impl`, as the oracle
    /// for the iterative matcher. `None` stands for reading past the end, where C reads the NUL
    /// terminator.
    fn redis_reference(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
        fn at(bytes: &[u8], i: usize) -> u8 {
            bytes.get(i).copied().unwrap_or(0)
        }
        fn imp(
            pat: &[u8],
            mut p: usize,
            s_all: &[u8],
            mut s: usize,
            nocase: bool,
            skip: &mut bool,
            nesting: usize,
        ) -> bool {
            if nesting > MAX_STAR_NESTING {
                return false;
            }
            let plen_end = pat.len();
            let slen_end = s_all.len();
            while p < plen_end && s < slen_end {
                match pat[p] {
                    b'*' => {
                        while p < plen_end && at(pat, p + 1) == b'*' {
                            p += 1;
                        }
                        if plen_end - p == 1 {
                            return true;
                        }
                        while s < slen_end {
                            if imp(pat, p + 1, s_all, s, nocase, skip, nesting + 1) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            s += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => s += 1,
                    b'[' => {
                        p += 1;
                        let not = at(pat, p) == b'^';
                        if not {
                            p += 1;
                        }
                        let mut matched = false;
                        loop {
                            let left = plen_end as isize - p as isize;
                            if at(pat, p) == b'\\' && left >= 2 {
                                p += 1;
                                if pat[p] == s_all[s] {
                                    matched = true;
                                }
                            } else if at(pat, p) == b']' {
                                break;
                            } else if left == 0 {
                                p -= 1;
                                break;
                            } else if left >= 3 && pat[p + 1] == b'-' {
                                let (mut lo, mut hi, mut c) = (
                                    as_c_char(pat[p]),
                                    as_c_char(pat[p + 2]),
                                    as_c_char(s_all[s]),
                                );
                                if lo > hi {
                                    std::mem::swap(&mut lo, &mut hi);
                                }
                                if nocase {
                                    lo = c_tolower(lo);
                                    hi = c_tolower(hi);
                                    c = c_tolower(c);
                                }
                                p += 2;
                                if c >= lo && c <= hi {
                                    matched = true;
                                }
                            } else if bytes_equal(pat[p], s_all[s], nocase) {
                                matched = true;
                            }
                            p += 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        s += 1;
                    }
                    first => {
                        let literal = if first == b'\\' && plen_end - p >= 2 {
                            p += 1;
                            pat[p]
                        } else {
                            first
                        };
                        if !bytes_equal(literal, s_all[s], nocase) {
                            return false;
                        }
                        s += 1;
                    }
                }
                p += 1;
                if s == slen_end {
                    while at(pat, p) == b'*' && p < plen_end {
                        p += 1;
                    }
                    break;
                }
            }
            p == plen_end && s == slen_end
        }
        let mut skip = false;
        imp(pattern, 0, text, 0, nocase, &mut skip, 0)
    }

    #[test]
    fn agrees_with_redis_reference_on_random_inputs() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pattern_alphabet = b"ab*?[]^-\\A";
        let text_alphabet = b"ab]-^\\A*";
        for _ in 0..200_000 {
            let pattern: Vec<u8> = (0..rng.usize(0..9))
                .map(|_| pattern_alphabet[rng.usize(..pattern_alphabet.len())])
                .collect();
            let text: Vec<u8> = (0..rng.usize(0..7))
                .map(|_| text_alphabet[rng.usize(..text_alphabet.len())])
                .collect();
            let nocase = rng.bool();
            assert_eq!(
                glob_match(&pattern, &text, nocase),
                redis_reference(&pattern, &text, nocase),
                "pattern {:?} text {:?} nocase {nocase}",
                String::from_utf8_lossy(&pattern),
                String::from_utf8_lossy(&text)
            );
        }
    }
}
