//! The XML 1.0 rules quick-xml leaves to its caller: which characters a document may hold, what
//! a name is, and the exact shape of a start tag and of the XML declaration.
//!
//! quick-xml 0.42 finds the markup (tags, comments, CDATA, processing instructions), matches end
//! tags (`check_end_names`), refuses `--` inside comments (`check_comments`), a dangling `&`, an
//! unquoted or unclosed attribute value and a repeated attribute name. It does not check names,
//! characters, `<` inside an attribute value, `]]>` in text, the position and form of the XML
//! declaration, or the white space between attributes; this module does.
//!
//! Every function here is total: it walks `&str` by characters and never indexes by byte.

/// Whether XML 1.0 allows `c` anywhere in a document (the `Char` production): tab, line feed,
/// carriage return, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. Refused: the other C0
/// control characters (U+0000–U+001F), U+FFFE and U+FFFF; surrogates cannot occur in a `str`.
pub fn is_xml_char(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'..='\u{10FFFF}'
    )
}

/// Whether every character of `s` is one XML 1.0 allows ([`is_xml_char`]).
pub fn is_xml_text(s: &str) -> bool {
    s.chars().all(is_xml_char)
}

/// XML white space (the `S` production): space, tab, line feed, carriage return. Narrower than
/// [`char::is_whitespace`].
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_name_start(c: char) -> bool {
    matches!(
        c,
        ':' | 'A'..='Z'
            | '_'
            | 'a'..='z'
            | '\u{C0}'..='\u{D6}'
            | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}'
            | '\u{370}'..='\u{37D}'
            | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}'
            | '\u{2070}'..='\u{218F}'
            | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}'
            | '\u{F900}'..='\u{FDCF}'
            | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}'
    )
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(
            c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}'
        )
}

/// Whether `s` is an XML 1.0 `Name` (element, attribute, processing-instruction target).
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// A position in a `str`, always on a character boundary.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips white space; whether there was any.
    fn space(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
        self.pos > start
    }

    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.bump().is_some_and(is_name_start) {
            return None;
        }
        loop {
            // Names on this wire are ASCII: their characters are stepped over a byte at a time
            // (an ASCII byte is a whole character), the rest one character at a time.
            self.pos += self
                .rest()
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.'))
                .count();
            match self.peek() {
                Some(c) if !c.is_ascii() && is_name_char(c) => self.bump(),
                _ => break,
            };
        }
        self.s.get(start..self.pos)
    }

    /// The text up to the next `end`, which is consumed too.
    fn until(&mut self, end: char) -> Option<&'a str> {
        let rest = self.rest();
        let (value, _) = rest.split_once(end)?;
        self.pos += value.len() + end.len_utf8();
        Some(value)
    }
}

/// Checks the content of a start or empty-element tag (what lies between `<` and `>` or `/>`):
/// `Name (S Name S? '=' S? AttValue)* S?`, where an `AttValue` is quoted with `"` or `'` and
/// holds no `<`. Calls `attr` with each attribute's name and raw value (quotes removed) in
/// order, and returns the element name. References in values are checked when they are
/// resolved, not here.
pub(crate) fn check_tag<'a>(
    raw: &'a str,
    mut attr: impl FnMut(&'a str, &'a str),
) -> Result<&'a str, &'static str> {
    let mut c = Cursor { s: raw, pos: 0 };
    let name = c.name().ok_or("an element name is not a valid XML name")?;
    loop {
        let spaced = c.space();
        if c.peek().is_none() {
            return Ok(name);
        }
        if !spaced {
            return Err("a start tag holds a character that is not allowed there");
        }
        let key = c
            .name()
            .ok_or("an attribute name is not a valid XML name")?;
        c.space();
        if c.bump() != Some('=') {
            return Err("an attribute has no '=' and value");
        }
        c.space();
        let quote = c
            .bump()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or("an attribute value is not quoted")?;
        let value = c.until(quote).ok_or("an attribute value is not closed")?;
        if value.contains('<') {
            return Err("an attribute value contains '<'");
        }
        attr(key, value);
    }
}

/// Checks the XML declaration's content (between `<?` and `?>`, starting with `xml`):
/// `version="1.x"`, then optionally `encoding` (a well-formed encoding name) and `standalone`
/// (`yes` or `no`), in that order and nothing else. The encoding name is not compared with the
/// body's: bodies are UTF-8 whatever they declare (.NET writes `utf-16` when it serialises to a
/// string that is then sent as UTF-8).
pub(crate) fn check_declaration(raw: &str) -> Result<(), &'static str> {
    const BAD: &str = "the XML declaration is not well-formed";
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    check_tag(raw, |k, v| attrs.push((k, v))).map_err(|_| BAD)?;
    let mut attrs = attrs.into_iter().peekable();
    match attrs.next() {
        Some(("version", v)) if is_version(v) => {}
        _ => return Err(BAD),
    }
    if let Some(&(_, v)) = attrs.peek().filter(|(k, _)| *k == "encoding") {
        if !is_encoding_name(v) {
            return Err(BAD);
        }
        attrs.next();
    }
    if let Some(&(_, v)) = attrs.peek().filter(|(k, _)| *k == "standalone") {
        if v != "yes" && v != "no" {
            return Err(BAD);
        }
        attrs.next();
    }
    match attrs.next() {
        None => Ok(()),
        Some(_) => Err(BAD),
    }
}

/// `1.` followed by one or more digits.
fn is_version(v: &str) -> bool {
    v.strip_prefix("1.")
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// `[A-Za-z] ([A-Za-z0-9._] | '-')*`
fn is_encoding_name(v: &str) -> bool {
    let mut chars = v.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Resolves a character reference's content (`#65`, `#x41`): decimal digits, or `x` and
/// hexadecimal digits, naming a character [`is_xml_char`] allows. `None` when it is no number
/// or no character; `Some(Err(()))` when it names a character XML forbids.
pub(crate) fn char_ref(content: &str) -> Option<Result<char, ()>> {
    let num = content.strip_prefix('#')?;
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    let ch = char::from_u32(code)?;
    Some(if is_xml_char(ch) { Ok(ch) } else { Err(()) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn characters() {
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            'é',
            '\u{FFFD}',
            '\u{10000}',
            '\u{85}',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in ['\0', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1B}', '\u{1F}'] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        assert!(!is_xml_char('\u{FFFE}') && !is_xml_char('\u{FFFF}'));
    }

    #[test]
    fn names() {
        for n in ["a", "Logoff", "xsi:nil", "_x", "é1", "a-b.c", "a\u{B7}"] {
            assert!(is_name(n), "{n}");
        }
        for n in ["", "1a", "-a", ".a", "a b", "a<", "a\"", "a=b", "\u{B7}"] {
            assert!(!is_name(n), "{n}");
        }
    }

    proptest::proptest! {
        /// A tag's name is the longest run of name characters, whatever mix of ASCII and
        /// other characters it holds.
        #[test]
        fn a_tag_name_is_its_longest_run_of_name_characters(
            s in "[a-zA-Z0-9_:.\\-\u{B7}\u{C0}-\u{2FF}\u{300}-\u{36F}\u{2070}-\u{218F} <=>'\"]{0,24}"
        ) {
            let end = s
                .char_indices()
                .find(|&(i, c)| if i == 0 { !is_name_start(c) } else { !is_name_char(c) })
                .map_or(s.len(), |(i, _)| i);
            let want = s.get(..end).filter(|name| !name.is_empty());
            let mut cursor = Cursor { s: &s, pos: 0 };
            proptest::prop_assert_eq!(cursor.name(), want);
        }
    }

    #[test]
    fn tags() {
        let mut seen = Vec::new();
        let name = check_tag("A b='1' c = \"x>y\"\t", |k, v| seen.push((k, v))).unwrap();
        assert_eq!(name, "A");
        assert_eq!(seen, vec![("b", "1"), ("c", "x>y")]);
        for bad in [
            "",
            " A",
            "1A",
            "A b=\"<\"",
            "A 1b=\"x\"",
            "A b=\"1\"c=\"2\"",
            "A b",
            "A b=",
            "A b=1",
            "A b=\"1",
            "A/",
            "A b=\"1\" /",
        ] {
            assert!(check_tag(bad, |_, _| {}).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn declarations() {
        for ok in [
            "xml version=\"1.0\"",
            "xml version='1.0' encoding='utf-8'",
            "xml version=\"1.0\" encoding=\"utf-16\" standalone=\"yes\" ",
            "xml version=\"1.1\" standalone='no'",
        ] {
            assert_eq!(check_declaration(ok), Ok(()), "{ok}");
        }
        for bad in [
            "xml",
            "xml encoding=\"utf-8\"",
            "xml version=\"2.0\"",
            "xml version=\"1.\"",
            "xml version=\"1.0\" standalone=\"maybe\"",
            "xml version=\"1.0\" standalone=\"yes\" encoding=\"utf-8\"",
            "xml version=\"1.0\" encoding=\"8bit\"",
            "xml version=\"1.0\" other=\"x\"",
        ] {
            assert!(check_declaration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn character_references() {
        assert_eq!(char_ref("#65"), Some(Ok('A')));
        assert_eq!(char_ref("#x41"), Some(Ok('A')));
        assert_eq!(char_ref("#x1F600"), Some(Ok('\u{1F600}')));
        assert_eq!(char_ref("#1"), Some(Err(())));
        assert_eq!(char_ref("#0"), Some(Err(())));
        assert_eq!(char_ref("#xFFFF"), Some(Err(())));
        for bad in [
            "#",
            "#x",
            "#X41",
            "#+1",
            "#-1",
            "#xD800",
            "#99999999999",
            "amp",
            "#1a",
        ] {
            assert_eq!(char_ref(bad), None, "{bad}");
        }
    }
}
