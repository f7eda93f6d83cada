//! A small element tree over quick-xml: what every message is decoded from and encoded to.
//!
//! PFS bodies are shallow (a root, a few child elements, attributes for scalars), so a tree is
//! cheap, and decoding from it lets every message report exactly which attribute is missing or
//! malformed without ever echoing a value (values can be secrets or patient data).
//!
//! Parsing enforces XML 1.0 well-formedness (see [`syntax`] for what quick-xml checks and what
//! is checked here) and the [`Limits`] of the message being read; writing never emits a
//! character XML 1.0 forbids.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;

pub mod syntax;

pub use syntax::{is_name, is_xml_char, is_xml_text};

/// How large a document may be, beyond the body-size limit of the transport. Requests declare
/// theirs next to their codec ([`crate::RequestMessage::LIMITS`]); replies are read with
/// [`Limits::REPLY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting, the root element counted as level 1.
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
    /// Most attributes in the whole document, `xmlns` declarations included.
    pub max_attributes: usize,
    /// Longest attribute value, and longest text directly inside one element, in bytes of UTF-8
    /// after references are resolved.
    pub max_value_bytes: usize,
}

impl Limits {
    /// What a request may hold unless its message declares otherwise. Real requests are a root
    /// with at most one child (`Application`), about a dozen attributes and values of a few
    /// dozen characters; these limits leave room for the .NET serializer's namespaces, unknown
    /// attributes and elements (which are ignored) and long names.
    pub const REQUEST: Limits = Limits {
        max_depth: 8,
        max_elements: 32,
        max_attributes: 128,
        max_value_bytes: 1024,
    };

    /// What the SDK accepts in a reply: a `ListSlotsReply` over sixteen weeks of a large
    /// practice holds tens of thousands of slots, and a `BinaryDataPage` holds a whole file
    /// base64-encoded (the SDK bounds the body itself at 64 MiB).
    pub const REPLY: Limits = Limits {
        max_depth: 16,
        max_elements: 1_000_000,
        max_attributes: 8_000_000,
        max_value_bytes: 64 * 1024 * 1024,
    };
}

/// One XML element: its local name, attributes in document order, children and text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (any namespace prefix removed).
    pub name: String,
    /// Attributes in document order; `xmlns` declarations are dropped.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Concatenated character data directly inside this element.
    pub text: String,
    /// Children already written (see [`Markup`]), written after [`children`](Self::children).
    /// Parsing never fills it.
    pub markup: Markup,
}

/// Elements written once by [`Element::write`] and kept as text, to be written again as they
/// are: what the server's record cache holds. Only [`Markup::of`] makes one, so the text is
/// always what the writer would have written for those elements (well-formed, escaped).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Markup(Option<Arc<str>>);

impl Markup {
    /// The elements written one after another.
    pub fn of(elements: impl IntoIterator<Item = Element>) -> Markup {
        let mut out = String::new();
        for e in elements {
            e.write(&mut out);
        }
        Markup((!out.is_empty()).then(|| Arc::from(out)))
    }

    /// Bytes of text held.
    pub fn len(&self) -> usize {
        self.0.as_deref().map_or(0, str::len)
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

impl std::fmt::Debug for Markup {
    // The text may hold patient data: its length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Markup({} bytes)", self.len())
    }
}

/// Why a body could not be read as an XML document. Texts are fixed: they never contain input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The body is not UTF-8.
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    /// A document type declaration was present.
    #[error("DOCTYPE declarations are not accepted")]
    DocType,
    /// An entity other than the five predefined ones or a character reference.
    #[error("undeclared entity reference")]
    Entity,
    /// The document has no root element.
    #[error("the body has no root element")]
    Empty,
    /// Nesting, element count or attribute count beyond the message's [`Limits`].
    #[error(
        "the document is nested too deeply or has too many elements or attributes for this message type"
    )]
    TooComplex,
    /// An attribute value or an element's text beyond the message's [`Limits`].
    #[error("an attribute value or an element's text is longer than this message type allows")]
    TooLong,
    /// A character XML 1.0 forbids, written directly or as a character reference.
    #[error(
        "the document contains a character XML 1.0 does not allow (a control character other than tab, line feed and carriage return, U+FFFE or U+FFFF), directly or as a character reference"
    )]
    ForbiddenChar,
    /// Anything else that makes the document not well-formed, with the byte position.
    #[error("malformed XML near byte {position}: {reason}")]
    Malformed {
        /// Byte offset where reading stopped.
        position: u64,
        /// What was wrong, in fixed words (never input text).
        reason: Reason,
    },
}

/// Why a document is malformed: always one of the code's own fixed texts, never input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason(pub &'static str);

impl From<&'static str> for Reason {
    fn from(text: &'static str) -> Self {
        Reason(text)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Counts against the [`Limits`] while a document is read.
struct Budget<'l> {
    limits: &'l Limits,
    elements: usize,
    attributes: usize,
}

impl Element {
    /// A new element with no attributes, children or text.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Element::default()
        }
    }

    /// Builder: adds an attribute.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_owned(), value.into()));
        self
    }

    /// Builder: adds an attribute when the value is present.
    pub fn opt_attr(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// Builder: adds a child element.
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// Builder: adds several child elements.
    pub fn children(mut self, children: impl IntoIterator<Item = Element>) -> Self {
        self.children.extend(children);
        self
    }

    /// Builder: sets the text content.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// The value of an attribute, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child element with this name.
    pub fn first(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child element with this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Parses a whole document with the generous [`Limits::REPLY`] and returns its root
    /// element. Requests are parsed with their message's limits by [`crate::Request::decode`].
    pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
        Self::parse_with(body, &Limits::REPLY)
    }

    /// Parses a whole document within `limits` and returns its root element.
    ///
    /// The body must be a well-formed XML 1.0 document in UTF-8 (a byte order mark is allowed):
    /// no DOCTYPE, no entities but the five predefined ones and character references, only
    /// characters XML 1.0 allows (also through character references), valid names, no `<` in
    /// attribute values, no `]]>` in text, attributes separated by white space and given once
    /// (also under two namespace prefixes), the XML declaration only at the very start.
    pub fn parse_with(body: &[u8], limits: &Limits) -> Result<Element, XmlError> {
        let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        // quick-xml would skip a second mark as if it were the first: it is text before the root.
        if text.starts_with('\u{FEFF}') {
            return Err(XmlError::Malformed {
                position: 3,
                reason: Reason("text outside the root element"),
            });
        }
        // Every character of a document must be a `Char`: this one pass covers names, values,
        // text, comments, processing instructions and CDATA sections.
        if !is_xml_text(text) {
            return Err(XmlError::ForbiddenChar);
        }
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        let mut budget = Budget {
            limits,
            elements: 0,
            attributes: 0,
        };
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let mut first = true;
        loop {
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                position: reader.error_position(),
                reason: Reason(describe(&e)),
            })?;
            let at_start = std::mem::replace(&mut first, false);
            match event {
                Event::DocType(_) => return Err(XmlError::DocType),
                Event::Decl(decl) => {
                    if !at_start {
                        return Err(malformed(
                            &reader,
                            "the XML declaration is not at the start of the document",
                        ));
                    }
                    syntax::check_declaration(&decl).map_err(|r| malformed(&reader, r))?;
                }
                Event::PI(pi) => {
                    let target = pi.target();
                    if !is_name(target) || target.eq_ignore_ascii_case("xml") {
                        return Err(malformed(
                            &reader,
                            "a processing instruction has an invalid target",
                        ));
                    }
                }
                Event::Comment(c) => {
                    // quick-xml refuses `--` inside; XML also forbids a comment ending in `-`.
                    if c.ends_with('-') {
                        return Err(malformed(&reader, "a comment ends with '-'"));
                    }
                }
                Event::Start(_) | Event::Empty(_) if root.is_some() => {
                    return Err(malformed(&reader, "content after the root element"));
                }
                Event::Start(start) => {
                    if stack.len() >= limits.max_depth {
                        return Err(XmlError::TooComplex);
                    }
                    stack.push(open(&reader, &start, &mut budget)?);
                }
                Event::Empty(start) => {
                    if stack.len() >= limits.max_depth {
                        return Err(XmlError::TooComplex);
                    }
                    let element = open(&reader, &start, &mut budget)?;
                    close(element, &mut stack, &mut root);
                }
                Event::End(_) => {
                    let element = stack
                        .pop()
                        .ok_or_else(|| malformed(&reader, "unexpected end tag"))?;
                    close(element, &mut stack, &mut root);
                }
                Event::Text(t) => {
                    if t.contains("]]>") {
                        return Err(malformed(&reader, "text contains the CDATA end marker"));
                    }
                    match stack.last_mut() {
                        Some(top) => push_text(top, &t.xml10_content(), limits)?,
                        None if t.chars().all(syntax::is_space) => {}
                        None => return Err(malformed(&reader, "text outside the root element")),
                    }
                }
                Event::CData(c) => match stack.last_mut() {
                    Some(top) => push_text(top, &c.xml10_content(), limits)?,
                    None => return Err(malformed(&reader, "CDATA outside the root element")),
                },
                Event::GeneralRef(r) => {
                    let resolved = resolve_ref(&r)?;
                    match stack.last_mut() {
                        Some(top) => push_text(top, &resolved, limits)?,
                        None => {
                            return Err(malformed(&reader, "reference outside the root element"));
                        }
                    }
                }
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return Err(malformed(&reader, "the document ends inside an element"));
        }
        root.ok_or(XmlError::Empty)
    }

    /// Serialises the element as a document with an XML declaration.
    pub fn to_document(&self) -> String {
        let mut out = String::with_capacity(256 + self.markup.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        self.write(&mut out);
        out
    }

    /// Serialises the element (no declaration).
    ///
    /// Whatever the tree holds, the output contains only characters XML 1.0 allows: any other
    /// character (in a name, a value or text, from a database row written before validation
    /// existed, say) is written as U+FFFD REPLACEMENT CHARACTER.
    pub fn write(&self, out: &mut String) {
        self.write_start(out);
        if self.children.is_empty() && self.text.is_empty() && self.markup.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        escape_into(&self.text, out);
        for c in &self.children {
            c.write(out);
        }
        out.push_str(self.markup.as_str());
        out.push_str("</");
        push_name(&self.name, out);
        out.push('>');
    }

    /// Serialises the element as a document for people to read: each element that holds only
    /// elements starts a line, indented two spaces per level, and its children follow on lines
    /// of their own.
    ///
    /// Only white space between elements changes. Attribute values and text are written
    /// exactly as [`write`](Self::write) writes them: an element with text (a leaf, or one whose
    /// text sits among its children) is written on one line as it is, never re-wrapped, so
    /// parsing the result gives the same names, attributes and text (the white space that
    /// separated child elements aside).
    pub fn to_pretty_document(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        self.write_pretty(0, &mut out);
        out.push('\n');
        out
    }

    fn write_pretty(&self, depth: usize, out: &mut String) {
        if self.children.is_empty()
            || !self.text.chars().all(syntax::is_space)
            || !self.markup.is_empty()
        {
            self.write(out);
            return;
        }
        self.write_start(out);
        out.push_str(">\n");
        for c in &self.children {
            push_indent(depth + 1, out);
            c.write_pretty(depth + 1, out);
            out.push('\n');
        }
        push_indent(depth, out);
        out.push_str("</");
        push_name(&self.name, out);
        out.push('>');
    }

    /// `<name` and the attributes, without the closing `>` or `/>`.
    fn write_start(&self, out: &mut String) {
        out.push('<');
        push_name(&self.name, out);
        for (k, v) in &self.attrs {
            out.push(' ');
            push_name(k, out);
            out.push_str("=\"");
            escape_into(v, out);
            out.push('"');
        }
    }
}

fn push_indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

impl std::fmt::Debug for Element {
    // Attribute values and text may be secrets or patient data: show the shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.name)
            .field(
                "attrs",
                &self.attrs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

fn open(
    reader: &Reader<&[u8]>,
    start: &BytesStart<'_>,
    budget: &mut Budget<'_>,
) -> Result<Element, XmlError> {
    budget.elements += 1;
    if budget.elements > budget.limits.max_elements {
        return Err(XmlError::TooComplex);
    }
    let mut raw: Vec<(&str, &str)> = Vec::new();
    syntax::check_tag(start, |key, value| raw.push((key, value)))
        .map_err(|r| malformed(reader, r))?;
    budget.attributes += raw.len();
    if budget.attributes > budget.limits.max_attributes {
        return Err(XmlError::TooComplex);
    }
    let mut element = Element::new(start.local_name().as_ref());
    // The names and raw values as the tag's check split them: quick-xml only normalizes each
    // value (line ends, white space, references), without reading the tag again.
    for (key, raw) in raw {
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let attr = Attribute {
            key: QName(key),
            value: Cow::Borrowed(raw),
        };
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(_) => XmlError::Entity,
                other => malformed(reader, describe(&other)),
            })?;
        if value.len() > budget.limits.max_value_bytes {
            return Err(XmlError::TooLong);
        }
        // The raw text was checked with the document; a value normalizing changed may hold a
        // forbidden character from a reference.
        if matches!(value, Cow::Owned(_)) && !is_xml_text(&value) {
            return Err(XmlError::ForbiddenChar);
        }
        let local = key.rsplit(':').next().unwrap_or(key);
        element.attrs.push((local.to_owned(), value.into_owned()));
    }
    if has_duplicate_names(&element.attrs) {
        return Err(malformed(
            reader,
            "an attribute is given twice (namespace prefixes are ignored)",
        ));
    }
    Ok(element)
}

/// Whether two attributes share a local name (`a` and `p:a` are the same to every message).
fn has_duplicate_names(attrs: &[(String, String)]) -> bool {
    if attrs.len() <= 8 {
        attrs
            .iter()
            .enumerate()
            .any(|(i, (k, _))| attrs.iter().skip(i + 1).any(|(other, _)| other == k))
    } else {
        let mut seen = HashSet::with_capacity(attrs.len());
        !attrs.iter().all(|(k, _)| seen.insert(k.as_str()))
    }
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(top: &mut Element, piece: &str, limits: &Limits) -> Result<(), XmlError> {
    if top.text.len() + piece.len() > limits.max_value_bytes {
        return Err(XmlError::TooLong);
    }
    top.text.push_str(piece);
    Ok(())
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, XmlError> {
    let content: &str = r;
    if content.starts_with('#') {
        return match syntax::char_ref(content) {
            Some(Ok(ch)) => Ok(Cow::Owned(ch.to_string())),
            Some(Err(())) => Err(XmlError::ForbiddenChar),
            None => Err(XmlError::Entity),
        };
    }
    let s = match content {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return Err(XmlError::Entity),
    };
    Ok(Cow::Borrowed(s))
}

fn malformed(reader: &Reader<&[u8]>, reason: &'static str) -> XmlError {
    XmlError::Malformed {
        position: reader.buffer_position(),
        reason: Reason(reason),
    }
}

/// quick-xml's error texts name positions and syntax, but some quote input (names in
/// mismatched end tags, attribute names); keep the kind only, in fixed words.
fn describe(e: &quick_xml::Error) -> &'static str {
    use quick_xml::errors::{IllFormedError as I, SyntaxError as S};
    use quick_xml::events::attributes::AttrError as A;
    match e {
        quick_xml::Error::Syntax(s) => match s {
            S::InvalidBangMarkup => "unknown markup after '<!'",
            S::UnclosedPI => "unclosed processing instruction",
            S::UnclosedXmlDecl => "unclosed XML declaration",
            S::UnclosedComment => "unclosed comment",
            S::UnclosedDoctype => "unclosed DOCTYPE",
            S::UnclosedCData => "unclosed CDATA section",
            S::UnclosedTag => "unclosed tag",
            S::UnclosedSingleQuotedAttributeValue | S::UnclosedDoubleQuotedAttributeValue => {
                "unclosed attribute value"
            }
        },
        quick_xml::Error::IllFormed(i) => match i {
            I::MismatchedEndTag { .. } => "an end tag does not match its start tag",
            I::UnmatchedEndTag(_) => "an end tag has no start tag",
            I::MissingEndTag(_) => "an element is not closed",
            I::DoubleHyphenInComment => "a comment contains '--'",
            I::UnclosedReference => "an '&' does not start a reference",
            _ => "ill-formed document",
        },
        quick_xml::Error::InvalidAttr(a) => match a {
            A::Duplicated(..) => "an attribute is given twice",
            _ => "invalid attribute",
        },
        quick_xml::Error::Escape(_) => "invalid reference",
        _ => "unreadable document",
    }
}

/// Writes a name, with U+FFFD for any character XML 1.0 forbids. Names come from the code's
/// own constants, so this is a guard, not a translation.
fn push_name(name: &str, out: &mut String) {
    if is_xml_text(name) {
        out.push_str(name);
    } else {
        out.extend(
            name.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' }),
        );
    }
}

/// Escapes text for an attribute value or element content.
///
/// Besides the usual five characters, an `=` that follows the word `errorCode` is written as a
/// character reference: real clients scan the raw body of every reply for `errorCode\s?=` and
/// treat any match as an `Error`, so a success reply must never contain that text. A character
/// XML 1.0 forbids (which no character reference can carry either) is written as U+FFFD.
fn escape_into(raw: &str, out: &mut String) {
    let start = out.len();
    let mut rest = raw;
    // Runs of characters that need nothing are copied whole; the scan stops only at a byte
    // `needs_care` marks. Each of those is ASCII or a lead byte, so it starts a character.
    while let Some((plain, tail)) = rest
        .bytes()
        .position(needs_care)
        .and_then(|at| rest.split_at_checked(at))
    {
        out.push_str(plain);
        let mut chars = tail.chars();
        let Some(ch) = chars.next() else { break };
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Literal line breaks and tabs in attribute values would be normalised to spaces.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '=' if follows_error_code(out.get(start..).unwrap_or_default()) => {
                out.push_str("&#61;")
            }
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            // Any other `=`, and the other characters whose first byte is 0xEF.
            other => out.push(other),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

/// The bytes [`escape_into`] stops at: the C0 controls, the five markup characters, `=`, and
/// 0xEF (the first byte of U+FFFE and U+FFFF).
fn needs_care(b: u8) -> bool {
    matches!(
        b,
        0..=0x1F | b'&' | b'<' | b'>' | b'"' | b'\'' | b'=' | 0xEF
    )
}

/// Whether `written` (this value's escaped text so far) ends with `errorCode`, or with
/// `errorCode` and one whitespace character: an `=` there would read as an error code.
fn follows_error_code(written: &str) -> bool {
    let mut chars = written.chars();
    if chars.next_back().is_some_and(|last| !last.is_whitespace()) {
        chars = written.chars();
    }
    chars.as_str().ends_with("errorCode")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn pretty_documents_change_only_the_space_between_elements() {
        let body = "<R a=\"x &amp; y\"><L>  two  spaces\nand a line </L><E/><M>k<C/></M>\n<P><Q b='1'/></P></R>";
        let el = Element::parse(body.as_bytes()).unwrap();
        let pretty = el.to_pretty_document();
        assert_eq!(
            pretty,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<R a=\"x &amp; y\">\n  <L>  two  spaces&#10;and a line </L>\n  <E/>\n  <M>k<C/></M>\n  <P>\n    <Q b=\"1\"/>\n  </P>\n</R>\n"
        );
        let again = Element::parse(pretty.as_bytes()).unwrap();
        assert_eq!(again.attrs, el.attrs);
        assert_eq!(again.children[..3], el.children[..3]);
        assert_eq!(again.children[0].text, "  two  spaces\nand a line ");
        assert_eq!(again.children[3].children, el.children[3].children);
    }

    #[test]
    fn parses_attributes_children_and_text() {
        let el = Element::parse(
            br#"<?xml version="1.0"?><A xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" b="1 &amp; 2"><C d="x"/><E>t&lt;<![CDATA[&]]></E></A>"#,
        )
        .unwrap();
        assert_eq!(el.name, "A");
        assert_eq!(el.attrs, vec![("b".to_owned(), "1 & 2".to_owned())]);
        assert_eq!(el.first("C").unwrap().get("d"), Some("x"));
        assert_eq!(el.first("E").unwrap().text, "t<&");
    }

    #[test]
    fn one_byte_order_mark_is_accepted_and_a_second_is_text_before_the_root() {
        assert!(Element::parse("\u{FEFF}<A/>".as_bytes()).is_ok());
        assert!(matches!(
            Element::parse("\u{FEFF}\u{FEFF}<A/>".as_bytes()),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            Element::parse("<?xml version=\"1.0\"?>\u{FEFF}<A/>".as_bytes()),
            Err(XmlError::Malformed { .. })
        ));
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let doc = br#"<!DOCTYPE A [<!ENTITY x "y">]><A b="&x;"/>"#;
        assert_eq!(Element::parse(doc), Err(XmlError::DocType));
        assert_eq!(Element::parse(br#"<A b="&x;"/>"#), Err(XmlError::Entity));
        assert_eq!(Element::parse(b"<A>&x;</A>"), Err(XmlError::Entity));
    }

    #[test]
    fn refuses_broken_documents() {
        for doc in [
            &b"<A><B></A>"[..],
            b"<A>",
            b"",
            b"text",
            b"<A/><B/>",
            b"<A b='1' b='2'/>",
        ] {
            assert!(
                Element::parse(doc).is_err(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        assert_eq!(Element::parse(b"\xff<A/>"), Err(XmlError::NotUtf8));
        let n = Limits::REPLY.max_depth + 1;
        let deep = "<a>".repeat(n) + &"</a>".repeat(n);
        assert_eq!(Element::parse(deep.as_bytes()), Err(XmlError::TooComplex));
    }

    /// Each case XML 1.0 forbids and quick-xml alone would let through (or drop silently).
    #[test]
    fn refuses_what_xml_forbids() {
        let malformed = |doc: &[u8]| {
            let e = Element::parse(doc).unwrap_err();
            assert!(
                matches!(e, XmlError::Malformed { .. }),
                "{}: {e:?}",
                String::from_utf8_lossy(doc)
            );
        };
        malformed(br#"<A b="<"/>"#);
        malformed(br#"<A b='x<y'/>"#);
        malformed(br#"<A 1b="x"/>"#);
        malformed(br#"<A -b="x"/>"#);
        malformed(br#"<1A/>"#);
        malformed(br#"<A b="1"c="2"/>"#);
        malformed(b"<A>x]]>y</A>");
        malformed(b"<A><!-- a -- b --></A>");
        malformed(b"<A><!-- a ---></A>");
        malformed(br#"<A b="1" p:b="2" xmlns:p="urn:p"/>"#);
        malformed(br#"<A/><?xml version="1.0"?>"#);
        malformed(br#" <?xml version="1.0"?><A/>"#);
        malformed(br#"<?xml encoding="utf-8"?><A/>"#);
        malformed(br#"<?xml version="1.0" standalone="perhaps"?><A/>"#);
        malformed(br#"<A><?XML x?></A>"#);
        malformed("<A/>\u{A0}".as_bytes());
        for doc in [
            &b"<A b=\"1\"\0c=\"2\"/>"[..],
            b"<A b=\"\x01\"/>",
            b"<A>\x1b[31m</A>",
            b"<A\x1b/>",
            b"<A>\x00</A>",
            "<A>\u{FFFE}</A>".as_bytes(),
            "<A b='\u{FFFF}'/>".as_bytes(),
            b"<A><!-- \x07 --></A>",
            b"<A><![CDATA[\x07]]></A>",
            b"<A>&#1;</A>",
            b"<A>&#x1B;</A>",
            b"<A b=\"&#1;\"/>",
            b"<A b=\"&#x1F;\"/>",
            b"<A>&#xFFFE;</A>",
            b"<A>&#0;</A>",
        ] {
            assert_eq!(
                Element::parse(doc),
                Err(XmlError::ForbiddenChar),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        // Broken character references are refused too.
        for doc in [
            &b"<A>&#xZZ;</A>"[..],
            b"<A>&#X41;</A>",
            b"<A>&#99999999;</A>",
        ] {
            assert!(
                Element::parse(doc).is_err(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn accepts_what_xml_allows() {
        for doc in [
            &b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><A/>"[..],
            b"<?xml version='1.0' encoding='utf-16' standalone='yes'?>\r\n<A/>\r\n",
            b"<A b='>' c=\"'\" d='\"'/>",
            b"<A>]] > ]]&gt;</A>",
            b"<A>\t\r\n</A>",
            b"<?pi data?><!-- c --><A><?x y?><!-- - --></A><!-- after -->",
            b"<A \t b = \"1\" \n />",
            b"<A>&#x1F600;&#65;&#xA0;&#9;</A>",
            "<é:Ä ö='ü'>€\u{85}</é:Ä>".as_bytes(),
        ] {
            assert!(
                Element::parse(doc).is_ok(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn limits_are_the_callers() {
        let tight = Limits {
            max_depth: 2,
            max_elements: 3,
            max_attributes: 2,
            max_value_bytes: 4,
        };
        let parse = |doc: &str| Element::parse_with(doc.as_bytes(), &tight);
        assert!(parse("<a x='1234'><b y='1'/><c/></a>").is_ok());
        assert_eq!(parse("<a><b><c/></b></a>"), Err(XmlError::TooComplex));
        assert_eq!(parse("<a><b/><b/><b/></a>"), Err(XmlError::TooComplex));
        assert_eq!(
            parse("<a x='1' y='2'><b z='3'/></a>"),
            Err(XmlError::TooComplex)
        );
        assert_eq!(parse("<a x='12345'/>"), Err(XmlError::TooLong));
        // Bytes after references are resolved: `&amp;` is one byte, `é` two.
        assert!(parse("<a x='&amp;&amp;&amp;&amp;'/>").is_ok());
        assert_eq!(parse("<a x='ééé'/>"), Err(XmlError::TooLong));
        assert_eq!(parse("<a>12<!-- -->345</a>"), Err(XmlError::TooLong));
        assert_eq!(parse("<a>&lt;&lt;&lt;&lt;&lt;</a>"), Err(XmlError::TooLong));
    }

    #[test]
    fn writing_replaces_characters_xml_forbids() {
        let el = Element::new("R")
            .attr("a", "x\u{1}y\0z\u{1B}\u{FFFE}\u{FFFF}")
            .text("t\u{7}\u{85}é");
        let out = el.to_document();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><R a=\"x\u{FFFD}y\u{FFFD}z\u{FFFD}\u{FFFD}\u{FFFD}\">t\u{FFFD}\u{85}é</R>"
        );
        let back = Element::parse(out.as_bytes()).unwrap();
        assert_eq!(
            back.get("a"),
            Some("x\u{FFFD}y\u{FFFD}z\u{FFFD}\u{FFFD}\u{FFFD}")
        );
        // Names too, though they come from the code's constants.
        let odd = Element::new("R\u{1}").attr("k\0", "v").text("t");
        assert_eq!(
            odd.to_document()
                .chars()
                .filter(|c| *c == '\u{FFFD}')
                .count(),
            3
        );
        assert!(is_xml_text(&odd.to_document()));
    }

    #[test]
    fn error_code_text_never_appears_in_output() {
        let el = Element::new("R")
            .attr("m", "see errorCode=5 and errorCode =6")
            .text("errorCode= x");
        let out = el.to_document();
        assert!(!out.contains("errorCode="), "{out}");
        assert!(!out.contains("errorCode ="), "{out}");
        assert_eq!(Element::parse(out.as_bytes()).unwrap(), el);
    }

    /// The escaping as first written, one character at a time: the fast scan must agree with
    /// it on every input.
    fn escape_char_by_char(raw: &str) -> String {
        let mut out = String::new();
        let mut last_word_end = 0usize;
        for ch in raw.chars() {
            match ch {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\n' => out.push_str("&#10;"),
                '\r' => out.push_str("&#13;"),
                '\t' => out.push_str("&#9;"),
                '=' if last_word_end != 0 && {
                    let between = out.get(last_word_end..).unwrap_or_default();
                    between.chars().all(char::is_whitespace) && between.chars().count() <= 1
                } =>
                {
                    out.push_str("&#61;")
                }
                '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
                _ => out.push(ch),
            }
            if ch == 'e' && out.ends_with("errorCode") {
                last_word_end = out.len();
            }
        }
        out
    }

    #[test]
    fn escaping_edge_cases() {
        for raw in [
            "",
            "plain",
            "=errorCode",
            "errorCode=",
            "errorCode =",
            "errorCode\u{a0}=",
            "errorCode  =",
            "errorCode\t=",
            "xerrorCode==",
            "a&b<c>d\"e'f",
            "\u{0}\u{1f}\u{7f}\u{fffe}\u{ffff}\u{fffd}\u{efff}\u{f000}",
            "caf\u{e9} \u{1f600}=",
        ] {
            let mut fast = String::new();
            escape_into(raw, &mut fast);
            assert_eq!(fast, escape_char_by_char(raw), "{raw:?}");
        }
        // Only this value's text counts: `errorCode` written before it does not.
        let mut out = String::from("errorCode");
        escape_into("=", &mut out);
        assert_eq!(out, "errorCode=");
    }

    fn without_position(e: XmlError) -> String {
        match e {
            XmlError::Malformed { reason, .. } => format!("malformed: {reason:?}"),
            other => other.to_string(),
        }
    }

    proptest::proptest! {
        #[test]
        fn escaping_agrees_with_the_char_by_char_form(
            raw in "(errorCode|[=\\s&<>'\"a-e]|\\PC|[\u{0}-\u{1f}\u{fffe}\u{ffff}\u{e000}-\u{f000}]){0,24}"
        ) {
            let mut fast = String::new();
            escape_into(&raw, &mut fast);
            proptest::prop_assert_eq!(fast, escape_char_by_char(&raw));
        }

        /// A value reads the same whether or not another value of its element needs
        /// normalizing (a reference), and so does the outcome of parsing: each value is
        /// normalized on its own, from the raw text the tag's check split.
        #[test]
        fn a_value_reads_the_same_with_or_without_normalizing(
            value in "([ a-z0-9=>/:'.-]|\\PC|\u{e9}){0,16}",
            key in "(p:)?[a-y]{1,3}",
        ) {
            let plain = format!("<R {key}=\"{value}\"/>");
            let normalized = format!("<R {key}=\"{value}\" z=\"&amp;\"/>");
            let plain = Element::parse(plain.as_bytes());
            let normalized = Element::parse(normalized.as_bytes());
            match (plain, normalized) {
                (Ok(p), Ok(n)) => {
                    proptest::prop_assert_eq!(p.attrs.first(), n.attrs.first());
                    proptest::prop_assert_eq!(n.get("z"), Some("&"));
                }
                // The same error; the position differs with the second tag's length.
                (Err(p), Err(n)) => proptest::prop_assert_eq!(without_position(p), without_position(n)),
                (p, n) => proptest::prop_assert!(false, "{:?} against {:?}", p, n),
            }
        }
    }

    #[test]
    fn round_trips_escaped_values() {
        let el = Element::new("R").attr("a", "<\"'&>").text("a & b");
        assert_eq!(Element::parse(el.to_document().as_bytes()).unwrap(), el);
    }
}
