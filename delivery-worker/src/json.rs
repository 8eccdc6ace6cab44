//! Bytes of JSON strings, shared by the reader's scanner and the request encoder: which
//! bytes a JSON string cannot hold raw, found a word or a SIMD register at a time.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `word` below `n` (`n` ≤ 0x80), by the classic "has less
/// than" test: `(w - n…) & !w`. A borrow can only mark bytes above a true one, so the
/// lowest set bit is exact (which byte) and the whole is exact (whether any).
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// The high bit of each byte of `word` equal to `byte` (exact as [`below`] is).
fn equal(word: u64, byte: u8) -> u64 {
    below(word ^ (ONES * u64::from(byte)), 1)
}

fn word_at(text: &[u8], at: usize) -> Option<u64> {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(text.get(at..at + 8)?);
    Some(u64::from_le_bytes(bytes))
}

/// How many leading bytes of `text` a JSON string holds as they are: everything but `"`,
/// `\` and control characters. Eight bytes at a time, and it stops at the first such
/// byte, so writing a string costs one pass however many escapes it needs.
pub fn plain_run(text: &[u8]) -> usize {
    let mut at = 0;
    while let Some(w) = word_at(text, at) {
        let hits = below(w, 0x20) | equal(w, b'"') | equal(w, b'\\');
        if hits != 0 {
            return at + hits.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    let tail = &text[at..];
    at + tail
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .unwrap_or(tail.len())
}

/// Where the next `"` or `\` in `text` is, for text known to hold no control character:
/// eight bytes at a time for the first words (keys and most values end there, where this
/// beats setting up a SIMD search), then a SIMD search for a longer string (a message).
pub fn quote_or_backslash(text: &[u8]) -> Option<usize> {
    const WORDS: usize = 8;
    let mut at = 0;
    while at < 8 * WORDS {
        let Some(w) = word_at(text, at) else { break };
        let hits = equal(w, b'"') | equal(w, b'\\');
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    memchr::memchr2(b'"', b'\\', text.get(at..)?).map(|end| end + at)
}

/// What one pass over a line tells the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Survey {
    /// A control character somewhere (a JSON string may not hold one raw).
    pub control: bool,
    /// Every byte is ASCII, so every part of it is UTF-8.
    pub ascii: bool,
}

/// Looks at every byte of `text` once, eight at a time (see [`below`]); both answers are
/// gathered with OR over all words and read once at the end.
pub fn survey(text: &[u8]) -> Survey {
    let (mut control, mut high) = (0u64, 0u64);
    let mut at = 0;
    while let Some(w) = word_at(text, at) {
        control |= below(w, 0x20);
        high |= w;
        at += 8;
    }
    let tail = &text[at..];
    Survey {
        control: control != 0 || tail.iter().any(|&b| b < 0x20),
        ascii: high & HIGHS == 0 && tail.is_ascii(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_quote_or_backslash_is_found_however_far() {
        for at in [0, 1, 7, 8, 15, 16, 17, 40, 63, 64, 65, 99] {
            let mut text = vec![b'a'; 100];
            text[at] = b'"';
            assert_eq!(quote_or_backslash(&text), Some(at));
            text[at] = b'\\';
            assert_eq!(quote_or_backslash(&text), Some(at));
        }
        assert_eq!(quote_or_backslash(&[b'a'; 10]), None);
        assert_eq!(quote_or_backslash(&[b'a'; 100]), None);
        // A quote right after a backslash, and bytes a borrow could confuse.
        assert_eq!(quote_or_backslash(b"\x01\x00\xff\x80\\\"xxxxxxxx"), Some(4));
        assert_eq!(quote_or_backslash(b"\x21\x23\x5b\x5dabcd\""), Some(8));
    }

    #[test]
    fn a_control_character_ends_a_run_wherever_it_is() {
        let text = "é日本 plain text, long enough for two words of 8 bytes and a tail".as_bytes();
        assert_eq!(plain_run(text), text.len());
        for at in 0..text.len() {
            for control in [0x00, 0x0a, 0x1f] {
                let mut with = text.to_vec();
                with[at] = control;
                assert_eq!(plain_run(&with), at, "{control:#04x} at {at}");
            }
        }
        assert_eq!(plain_run(b" \x7f\x80\xff"), 4);
        // Escapes close together in a long text: each run ends at the next one.
        let text = "a\t".repeat(1_000) + "\"";
        let (mut at, mut runs) = (0, 0);
        while at < text.len() {
            at += plain_run(&text.as_bytes()[at..]) + 1;
            runs += 1;
        }
        assert_eq!(runs, 1_001);
    }

    /// (control character seen, all ASCII)
    fn seen(text: &[u8]) -> (bool, bool) {
        let survey = survey(text);
        (survey.control, survey.ascii)
    }

    #[test]
    fn a_survey_sees_every_byte() {
        let text = b"plain ascii text, long enough for two chunks of 32 bytes and a tail";
        assert_eq!(seen(text), (false, true));
        for at in 0..text.len() {
            let mut with = text.to_vec();
            with[at] = b'\t';
            assert_eq!(seen(&with), (true, true), "at {at}");
            with[at] = 0xc3;
            assert_eq!(seen(&with), (false, false), "at {at}");
        }
        assert_eq!(seen(b""), (false, true));
    }

    #[test]
    fn a_run_ends_at_the_first_byte_that_needs_escaping() {
        assert_eq!(plain_run(b"abcdefghijklmnop\"q"), 16);
        assert_eq!(plain_run(b"abc\\"), 3);
        assert_eq!(plain_run(b"0123456789\n"), 10);
        assert_eq!(plain_run("é日本😀".as_bytes()), "é日本😀".len());
        assert_eq!(plain_run(b""), 0);
    }
}
