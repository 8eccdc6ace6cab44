//! Bytes of JSON strings, shared by the reader's scanner, the request encoder and the
//! JSON message format: which bytes a JSON string cannot hold raw, found a word or a SIMD
//! register at a time, and how they are escaped.

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

/// The longest escape [`escape_within`] writes (`\u00XX`): a room of at least this many
/// bytes always takes at least one character.
pub const MAX_ESCAPE_BYTES: usize = 6;

/// Appends as much of `text` to `out`, escaped for a JSON string body, as fits in `room`
/// bytes, never cutting a character or an escape; returns how many bytes of `text` it
/// took. Escapes as the request encoder does: `"` and `\` with a backslash, `\n`, `\r`,
/// `\t`, other control characters as `\u00XX`, everything else (all of UTF-8 above
/// U+001F) as it is.
pub fn escape_within(out: &mut String, text: &str, room: usize) -> usize {
    let (mut taken, mut written) = (0, 0);
    while taken < text.len() {
        let rest = &text[taken..];
        let run = plain_run(rest.as_bytes());
        if run > 0 {
            let mut fit = run.min(room - written);
            while !rest.is_char_boundary(fit) {
                fit -= 1;
            }
            out.push_str(&rest[..fit]);
            (taken, written) = (taken + fit, written + fit);
            if fit < run {
                return taken;
            }
            continue;
        }
        let escape = escaped(rest.as_bytes()[0]);
        if written + escape.len() > room {
            return taken;
        }
        out.push_str(escape.as_str());
        (taken, written) = (taken + 1, written + escape.len());
    }
    taken
}

/// The escape of one byte a JSON string cannot hold raw (`"`, `\`, a control character).
fn escaped(byte: u8) -> Escape {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => Escape::short(b'"'),
        b'\\' => Escape::short(b'\\'),
        b'\n' => Escape::short(b'n'),
        b'\r' => Escape::short(b'r'),
        b'\t' => Escape::short(b't'),
        control => Escape {
            bytes: [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(control >> 4)],
                HEX[usize::from(control & 0xf)],
            ],
            len: 6,
        },
    }
}

/// One escape, without an allocation.
struct Escape {
    bytes: [u8; MAX_ESCAPE_BYTES],
    len: usize,
}

impl Escape {
    fn short(byte: u8) -> Self {
        Self {
            bytes: [b'\\', byte, 0, 0, 0, 0],
            len: 2,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Escapes are ASCII.
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
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

    /// `text` escaped in parts of at most `room` bytes.
    fn parts(text: &str, room: usize) -> Vec<String> {
        let (mut parts, mut taken) = (Vec::new(), 0);
        while taken < text.len() {
            let mut part = String::new();
            let took = escape_within(&mut part, &text[taken..], room);
            assert!(took > 0 && part.len() <= room, "{part:?}");
            taken += took;
            parts.push(part);
        }
        parts
    }

    #[test]
    fn escaped_text_is_what_serde_reads_back_in_parts_within_their_room() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let text = format!("say \"hi\" \\ path/é 日本 😀 {controls} \u{7f} \u{2028} end");
        let mut whole = String::new();
        assert_eq!(escape_within(&mut whole, &text, usize::MAX), text.len());
        let read: String = serde_json::from_str(&format!("\"{whole}\"")).unwrap();
        assert_eq!(read, text);
        assert!(whole.contains(r#"\"hi\""#) && whole.contains(r"\n") && whole.contains(r"\u001f"));
        assert!(whole.contains("😀"), "non-ASCII stays as it is");
        for room in MAX_ESCAPE_BYTES..40 {
            let parts = parts(&text, room);
            let read: String = parts
                .iter()
                .map(|p| serde_json::from_str::<String>(&format!("\"{p}\"")).unwrap())
                .collect();
            assert_eq!(read, text, "room {room}");
        }
    }

    #[test]
    fn a_part_ends_before_an_escape_or_character_that_does_not_fit() {
        let mut out = String::new();
        assert_eq!(escape_within(&mut out, "ab\ncd", 3), 2);
        assert_eq!(out, "ab");
        out.clear();
        assert_eq!(
            escape_within(&mut out, "a😀", 4),
            1,
            "the 4-byte character needs 4 more"
        );
        assert_eq!(escape_within(&mut String::new(), "\u{1}", 5), 0);
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
