//! How `pfs call` (and `login`, `select`, `logoff` when they fail) shows a reply: the one place
//! that renders PFS documents for people and for scripts.
//!
//! * XML (default): the reply re-indented by [`Element::to_pretty_document`]; only white space
//!   between elements changes, never a value or a text.
//! * JSON (`--json`): each element is an object `{"name": …, "attributes": {…}, "children":
//!   […], "text": …}`: `attributes` maps each attribute's local name to its value (a string,
//!   in document order), `children` lists the child elements in document order, `text` is the
//!   element's character data exactly as decoded. `children` and `text` are left out when
//!   empty, and an element with children has no `text` when its text is only the white space
//!   between them.
//! * Raw (`--raw`): the body exactly as received.
//!
//! A body that is not XML is printed as it came (with `--json`, as one JSON string).

use anyhow::Result;
use pfs_client::RawResponse;
use pfs_wire::{Element, ErrorReply, WireMessage};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// How to print a reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Xml,
    Json,
    Raw,
}

/// Options choosing the format, shared by the commands that print replies.
#[derive(clap::Args, Clone)]
pub struct FormatArgs {
    /// Print the reply as JSON (see docs/sandbox.md for the mapping).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Print the reply body exactly as received.
    #[arg(long)]
    pub raw: bool,
}

impl FormatArgs {
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.raw {
            Format::Raw
        } else {
            Format::Xml
        }
    }
}

/// A reply the server refused: an `Error` body, or a status other than 200.
#[derive(Debug)]
pub struct Refusal {
    /// The `errorCode`, when the reply is an `Error`.
    pub code: Option<String>,
}

/// A failure that has been shown already: `main` exits with status 1 and prints nothing more.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the command failed")
    }
}

impl std::error::Error for Reported {}

/// Renders a reply body in `format`.
pub fn render(body: &str, format: Format) -> String {
    if format == Format::Raw {
        return body.to_owned();
    }
    match Element::parse(body.as_bytes()) {
        Ok(el) if format == Format::Json => {
            serde_json::to_string_pretty(&Json(&el)).unwrap_or_else(|_| body.to_owned())
        }
        Ok(el) => el.to_pretty_document().trim_end().to_owned(),
        Err(_) if format == Format::Json => Value::String(body.to_owned()).to_string(),
        Err(_) => body.to_owned(),
    }
}

/// The JSON form of an element (see the module documentation), written in document order:
/// `name`, `attributes` (in the order the element gives them), `children`, `text`.
pub struct Json<'a>(pub &'a Element);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let el = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &el.name)?;
        map.serialize_entry("attributes", &Attributes(&el.attrs))?;
        if !el.children.is_empty() {
            let children: Vec<Json<'_>> = el.children.iter().map(Json).collect();
            map.serialize_entry("children", &children)?;
        }
        let spacing = !el.children.is_empty() && el.text.chars().all(char::is_whitespace);
        if !el.text.is_empty() && !spacing {
            map.serialize_entry("text", &el.text)?;
        }
        map.end()
    }
}

struct Attributes<'a>(&'a [(String, String)]);

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Prints the reply on standard output in `format`; for an `Error` body, also
/// `error CODE: USER TEXT` and the technical text on standard error, and for a status other
/// than 200, the status. Returns the refusal, if it was one.
pub fn show(reply: &RawResponse, format: Format) -> Result<(), Refusal> {
    print_out(&render(&reply.body, format));
    refusal(reply)
}

/// Prints `text` and a line break on standard output. A reader that stops early (`| head`) is
/// not an error: the rest is dropped.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// Reports an `Error` reply or a status other than 200 on standard error, without the body.
pub fn refusal(reply: &RawResponse) -> Result<(), Refusal> {
    if reply.is_error() {
        return match ErrorReply::decode(reply.body.as_bytes()) {
            Ok(e) => {
                eprintln!("error {}: {}", e.error_code, e.user_friendly_message);
                if !e.technical_message.is_empty() {
                    eprintln!("  technical: {}", e.technical_message);
                }
                if reply.status != 200 {
                    eprintln!("  HTTP status {}", reply.status);
                }
                Err(Refusal {
                    code: Some(e.error_code),
                })
            }
            Err(_) => {
                eprintln!(
                    "error: the reply looks like an Error but cannot be read as one (HTTP {})",
                    reply.status
                );
                Err(Refusal { code: None })
            }
        };
    }
    if reply.status != 200 {
        eprintln!("error: HTTP status {}", reply.status);
        return Err(Refusal { code: None });
    }
    Ok(())
}

/// Shows an SDK error the way [`refusal`] shows an `Error` reply.
pub fn client_error(e: &pfs_client::Error) {
    match e {
        pfs_client::Error::Pfs {
            code,
            user_friendly_message,
            technical_message,
            ..
        } => {
            eprintln!("error {code}: {user_friendly_message}");
            if !technical_message.is_empty() {
                eprintln!("  technical: {technical_message}");
            }
        }
        pfs_client::Error::Http { status } => eprintln!("error: HTTP status {status}"),
        other => eprintln!("error: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_mapping() {
        let el = Element::parse(
            br#"<R a="1" b="x &amp; y"><C>  text </C><D/>
            </R>"#,
        )
        .unwrap();
        let text = serde_json::to_string(&Json(&el)).unwrap();
        assert!(
            text.starts_with(r#"{"name":"R","attributes":{"a":"1","b""#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            serde_json::json!({
                "name": "R",
                "attributes": {"a": "1", "b": "x & y"},
                "children": [
                    {"name": "C", "attributes": {}, "text": "  text "},
                    {"name": "D", "attributes": {}},
                ],
            })
        );
    }

    fn reply(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            suid: None,
            headers: http::HeaderMap::new(),
            body: body.into(),
        }
    }

    #[test]
    fn refusals_are_error_bodies_and_other_statuses() {
        assert!(refusal(&reply(200, "<LogoffReply/>")).is_ok());
        let r = refusal(&reply(
            200,
            r#"<Error errorCode="3" userFriendlyMessage="u" technicalMessage="t"/>"#,
        ))
        .unwrap_err();
        assert_eq!(r.code.as_deref(), Some("3"));
        let r = refusal(&reply(502, "bad gateway")).unwrap_err();
        assert_eq!(r.code, None);
        let r = refusal(&reply(500, "<LogoffReply/>")).unwrap_err();
        assert_eq!(r.code, None);
    }

    #[test]
    fn bodies_that_are_not_xml_are_printed_as_they_came() {
        assert_eq!(render("bad gateway", Format::Xml), "bad gateway");
        assert_eq!(render("bad gateway", Format::Json), "\"bad gateway\"");
        assert_eq!(render("<A><B/></A>", Format::Raw), "<A><B/></A>");
        assert_eq!(
            render("<A><B/></A>", Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<A>\n  <B/>\n</A>"
        );
    }
}
