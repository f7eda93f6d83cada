//! A small element tree over quick-xml: what every message is decoded from and encoded to.
//!
//! PFS bodies are shallow (a root, a few child elements, attributes for scalars), so a tree is
//! cheap, and decoding from it lets every message report exactly which attribute is missing or
//! malformed without ever echoing a value (values can be secrets or patient data).

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

/// Deepest element nesting accepted in a request; real messages use at most four levels.
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document. Requests are bounded far more tightly by the body
/// limit; this cap exists for replies, where a `ListSlots` over sixteen weeks of a large practice
/// can hold tens of thousands of slots.
pub const MAX_ELEMENTS: usize = 1_000_000;

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
}

/// Why a body could not be read as an XML document. Messages never contain input values.
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
    /// Nesting or element count beyond the limits.
    #[error(
        "the document is nested deeper than {MAX_DEPTH} levels or has more than {MAX_ELEMENTS} elements"
    )]
    TooComplex,
    /// Anything else quick-xml reports, with the byte position.
    #[error("malformed XML near byte {position}: {reason}")]
    Malformed {
        /// Byte offset where reading stopped.
        position: u64,
        /// What was wrong (from the parser; never contains input text).
        reason: String,
    },
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

    /// Parses a whole document and returns its root element.
    pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
        let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let mut count = 0usize;
        loop {
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                position: reader.error_position(),
                reason: describe(&e),
            })?;
            match event {
                Event::DocType(_) => return Err(XmlError::DocType),
                Event::Start(start) | Event::Empty(start) if root.is_some() => {
                    let _ = start;
                    return Err(malformed(&reader, "content after the root element"));
                }
                Event::Start(start) => {
                    count += 1;
                    if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                        return Err(XmlError::TooComplex);
                    }
                    stack.push(open(&reader, &start)?);
                }
                Event::Empty(start) => {
                    count += 1;
                    if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                        return Err(XmlError::TooComplex);
                    }
                    let element = open(&reader, &start)?;
                    close(element, &mut stack, &mut root);
                }
                Event::End(_) => {
                    let element = stack
                        .pop()
                        .ok_or_else(|| malformed(&reader, "unexpected end tag"))?;
                    close(element, &mut stack, &mut root);
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    match stack.last_mut() {
                        Some(top) => top.text.push_str(&content),
                        None if content.trim().is_empty() => {}
                        None => return Err(malformed(&reader, "text outside the root element")),
                    }
                }
                Event::CData(c) => match stack.last_mut() {
                    Some(top) => top.text.push_str(&c.xml10_content()),
                    None => return Err(malformed(&reader, "CDATA outside the root element")),
                },
                Event::GeneralRef(r) => {
                    let ch = resolve_ref(&r)?;
                    match stack.last_mut() {
                        Some(top) => top.text.push_str(&ch),
                        None => {
                            return Err(malformed(&reader, "reference outside the root element"));
                        }
                    }
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
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
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        self.write(&mut out);
        out
    }

    /// Serialises the element (no declaration).
    pub fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"");
            escape_into(v, out);
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        escape_into(&self.text, out);
        for c in &self.children {
            c.write(out);
        }
        let _ = write!(out, "</{}>", self.name);
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

fn open(reader: &Reader<&[u8]>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut element = Element::new(start.local_name().as_ref());
    for attr in start.attributes() {
        let attr = attr.map_err(|e| malformed(reader, &describe(&e.into())))?;
        let key = attr.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(_) => XmlError::Entity,
                other => malformed(reader, &describe(&other)),
            })?;
        let local = key.rsplit(':').next().unwrap_or(key);
        element.attrs.push((local.to_owned(), value.into_owned()));
    }
    Ok(element)
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, XmlError> {
    if let Ok(Some(ch)) = r.resolve_char_ref() {
        return Ok(Cow::Owned(ch.to_string()));
    }
    let s = match r.xml10_content().as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return Err(XmlError::Entity),
    };
    Ok(Cow::Borrowed(s))
}

fn malformed(reader: &Reader<&[u8]>, reason: &str) -> XmlError {
    XmlError::Malformed {
        position: reader.buffer_position(),
        reason: reason.to_owned(),
    }
}

/// quick-xml's error texts name positions and syntax, but a few quote input (names in
/// mismatched end tags); keep the kind only.
fn describe(e: &quick_xml::Error) -> String {
    match e {
        quick_xml::Error::Syntax(s) => s.to_string(),
        quick_xml::Error::IllFormed(_) => "ill-formed document".to_owned(),
        quick_xml::Error::InvalidAttr(_) => "invalid attribute".to_owned(),
        quick_xml::Error::Escape(_) => "invalid escape sequence".to_owned(),
        _ => "unreadable document".to_owned(),
    }
}

/// Escapes text for an attribute value or element content.
///
/// Besides the usual five characters, an `=` that follows the word `errorCode` is written as a
/// character reference: real clients scan the raw body of every reply for `errorCode\s?=` and
/// treat any match as an `Error`, so a success reply must never contain that text.
fn escape_into(raw: &str, out: &mut String) {
    let mut last_word_end = 0usize; // index in `out` just after the last "errorCode" seen
    for ch in raw.chars() {
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
            '=' if follows_error_code(out, last_word_end) => out.push_str("&#61;"),
            _ => out.push(ch),
        }
        // Only a word ending in `e` can be `errorCode`: keep the hot path to one comparison.
        if ch == 'e' && out.ends_with("errorCode") {
            last_word_end = out.len();
        }
    }
}

fn follows_error_code(out: &str, last_word_end: usize) -> bool {
    if last_word_end == 0 {
        return false;
    }
    let between = &out[last_word_end..];
    between.chars().all(char::is_whitespace) && between.chars().count() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(Element::parse(deep.as_bytes()), Err(XmlError::TooComplex));
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

    #[test]
    fn round_trips_escaped_values() {
        let el = Element::new("R").attr("a", "<\"'&>").text("a & b");
        assert_eq!(Element::parse(el.to_document().as_bytes()).unwrap(), el);
    }
}
