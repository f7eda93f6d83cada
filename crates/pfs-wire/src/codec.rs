//! Reading typed fields out of an [`Element`] with precise, value-free errors, and the
//! [`WireMessage`] trait every message implements.

use std::str::FromStr;

use crate::msg::common::{Header, PatientScope};
use crate::scalar::Guid;
use crate::xml::{Element, Limits, XmlError};

/// Why a body could not be decoded as the message its `type` header names.
///
/// Texts are built from the code's own static strings: they name elements, attributes and rules
/// but never quote input, not even an element name the request used, so they are safe to return
/// in an `Error`'s `technicalMessage` and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not an acceptable XML document.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not the one the `type` header names.
    #[error(
        "the root element {} does not match the type header {expected}",
        describe_root(.found)
    )]
    WrongRoot {
        /// What the `type` header (or the caller) expected.
        expected: MessageName,
        /// The root element, when it is the name of a message this crate knows (a request, a
        /// reply or `Error`); `None` for any other name, which is never repeated.
        found: Option<&'static str>,
    },
    /// A required attribute is absent or empty.
    #[error("{element}/@{attr} is required")]
    Missing {
        /// Element name.
        element: &'static str,
        /// Attribute name.
        attr: &'static str,
    },
    /// An attribute is present but not of the expected form.
    #[error("{element}/@{attr} must be {expected}")]
    Invalid {
        /// Element name.
        element: &'static str,
        /// Attribute name.
        attr: &'static str,
        /// The accepted form, in words.
        expected: &'static str,
    },
    /// A required child element is absent.
    #[error("{element} must contain a <{child}> element")]
    MissingChild {
        /// Parent element name.
        element: &'static str,
        /// Child element name.
        child: &'static str,
    },
    /// The `type` header is missing or names no known request.
    #[error("the type header names no message this server knows")]
    UnknownType,
    /// The request combines attributes in a way no message variant allows.
    #[error("{0}")]
    Shape(&'static str),
}

/// The name of a message: always one of the code's own constants, never input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageName(pub &'static str);

impl From<&'static str> for MessageName {
    fn from(name: &'static str) -> Self {
        MessageName(name)
    }
}

impl std::fmt::Display for MessageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A PFS message (request or reply) with a fixed root element name.
pub trait WireMessage: Sized {
    /// The root element name (and, for requests, the `type` header).
    const ROOT: &'static str;
    /// Builds the element tree for this message.
    fn to_element(&self) -> Element;
    /// Builds the element tree, consuming the message: the replies that carry much text (a
    /// long record, a file's pages) move it into the tree instead of copying it.
    fn into_element(self) -> Element
    where
        Self: Sized,
    {
        self.to_element()
    }
    /// Reads this message from an element whose name has already been checked.
    fn from_element(el: &Element) -> Result<Self, DecodeError>;

    /// As [`WireMessage::from_element`], from an element the message may take its strings
    /// from: a message that can carry large texts (`MessageCreate`'s attachments) moves them
    /// rather than copying them. [`crate::Request::decode`] reads requests this way.
    fn from_owned_element(el: Element) -> Result<Self, DecodeError> {
        Self::from_element(&el)
    }

    /// Encodes the message as a UTF-8 document with an XML declaration.
    fn encode(&self) -> String {
        self.to_element().to_document()
    }

    /// Decodes a document, checking that its root element is [`Self::ROOT`]. The document is
    /// read with [`Limits::REPLY`], as the SDK reads replies; the server reads requests with
    /// their own limits through [`crate::Request::decode`].
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let el = Element::parse(body)?;
        check_root(&el, Self::ROOT)?;
        Self::from_element(&el)
    }
}

/// What a request does to the server's state, which decides whether it is safe to send again
/// when its reply is lost (a client retries only [`Effect::is_repeatable`] requests after the
/// request may have reached the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Reads: changes nothing on the server but its access log.
    Read,
    /// Changes state, but a second copy leaves the same state and gets the same reply
    /// (`PatientSelected` for the patient already selected, marking a read message as read).
    Idempotent,
    /// Changes state so that a second copy does it again or is refused: an appointment booked
    /// twice, a second session, a cancel that finds nothing left to cancel.
    Write,
}

impl Effect {
    /// Whether a second copy of the request is harmless: [`Effect::Read`] and
    /// [`Effect::Idempotent`].
    pub const fn is_repeatable(self) -> bool {
        matches!(self, Effect::Read | Effect::Idempotent)
    }

    /// The name used in documentation and logs: `read`, `idempotent` or `write`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Idempotent => "idempotent",
            Effect::Write => "write",
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The [`Effect`] of a request type. Declared for every request in one table in the crate root
/// (`effects!`, next to [`for_each_request!`](crate::for_each_request)), so that the
/// classification is read in one place and a new request cannot be added without choosing.
pub trait RequestEffect {
    /// What a request of this type does to the server's state.
    const EFFECT: Effect;
}

/// What is declared once per request type, next to its codec: everything the server, the SDK
/// and `pfs call` need to know about the message beyond its fields. Its [`Effect`] is declared
/// in the table of effects ([`RequestEffect`]).
pub trait RequestMessage: WireMessage + RequestEffect {
    /// The reply a successful request gets.
    type Reply: ReplyMessage;
    /// Whether the request must carry a valid `suid` header (all but the messages that come
    /// before a session: `LinkAccount`, `Authenticate`, `CheckVersion`).
    const NEEDS_SESSION: bool = true;
    /// Whether the request carries the `<Application>` element naming the provider.
    const SENDS_APPLICATION: bool = false;
    /// How large a body of this type may be once it is read as XML (nesting, elements,
    /// attributes, value lengths); checked while parsing, before any field is read.
    const LIMITS: Limits = Limits::REQUEST;
    /// The largest body of this type the transport accepts, when it needs more than the
    /// transport's limit for every request (`None`: that limit). Only `MessageCreate`, which
    /// carries attachments, declares one: exactly its largest valid body.
    const MAX_BODY_BYTES: Option<usize> = None;
    /// Whether the request names a patient (`unitId`, `patientId` and `onlineUserId`): every
    /// request declared with `per_patient_request!`, whose [`scope`](Self::scope) is `Some`.
    const PER_PATIENT: bool = false;
    /// The common attributes.
    fn header(&self) -> &Header;
    /// The patient and online user a per-patient request names (`patientId`, `onlineUserId`).
    fn scope(&self) -> Option<&PatientScope> {
        None
    }
}

/// A reply, which echoes its request's `uuid` and, for per-patient messages, its `patientId`
/// and `onlineUserId`. The server does this once for every reply, after the operation ran.
pub trait ReplyMessage: WireMessage {
    /// Sets the echoed attributes from the request.
    fn echo(&mut self, uuid: Option<Guid>, scope: Option<&PatientScope>);
}

/// Declares a per-patient request (one that names `patientId` and `onlineUserId` in a
/// `scope: PatientScope` field) and its reply (`uuid` and `scope` echoed); optionally with its
/// own parsing limits (`per_patient_request!(Request => Reply, LIMITS = Limits { … })`) and
/// body size (`…, LIMITS = …, MAX_BODY_BYTES = Some(n)`).
macro_rules! per_patient_request {
    ($request:ident => $reply:ident) => {
        per_patient_request!($request => $reply, LIMITS = $crate::xml::Limits::REQUEST);
    };
    ($request:ident => $reply:ident, LIMITS = $limits:expr) => {
        per_patient_request!($request => $reply, LIMITS = $limits, MAX_BODY_BYTES = None);
    };
    ($request:ident => $reply:ident, LIMITS = $limits:expr, MAX_BODY_BYTES = $max_body:expr) => {
        impl $crate::codec::RequestMessage for $request {
            type Reply = $reply;
            const LIMITS: $crate::xml::Limits = $limits;
            const MAX_BODY_BYTES: Option<usize> = $max_body;
            const PER_PATIENT: bool = true;
            fn header(&self) -> &$crate::msg::common::Header {
                &self.header
            }
            fn scope(&self) -> Option<&$crate::msg::common::PatientScope> {
                Some(&self.scope)
            }
        }

        impl $crate::codec::ReplyMessage for $reply {
            fn echo(
                &mut self,
                uuid: Option<$crate::scalar::Guid>,
                scope: Option<&$crate::msg::common::PatientScope>,
            ) {
                self.uuid = uuid;
                self.scope = scope.cloned();
            }
        }
    };
}
pub(crate) use per_patient_request;

/// Declares a per-patient request that carries the common attributes and the scope and nothing
/// else (`ViewPatientOverview`, `RequestPatientRecord`, …): the struct, its codec and, through
/// [`per_patient_request!`], its reply.
macro_rules! scoped_request {
    ($(#[$doc:meta])* $request:ident => $reply:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $request {
            /// Common attributes.
            pub header: $crate::msg::common::Header,
            /// The selected patient and the online user.
            pub scope: $crate::msg::common::PatientScope,
        }

        impl $crate::codec::WireMessage for $request {
            const ROOT: &'static str = stringify!($request);

            fn to_element(&self) -> $crate::xml::Element {
                self.scope
                    .write(self.header.write($crate::xml::Element::new(Self::ROOT)))
            }

            fn from_element(el: &$crate::xml::Element) -> Result<Self, $crate::codec::DecodeError> {
                let f = $crate::codec::Fields::new(el, Self::ROOT);
                Ok($request {
                    header: $crate::msg::common::Header::read(&f)?,
                    scope: $crate::msg::common::PatientScope::read(&f)?,
                })
            }
        }

        $crate::codec::per_patient_request!($request => $reply);
    };
}
pub(crate) use scoped_request;

/// Declares the [`ReplyMessage`] of a reply that echoes only the `uuid`.
macro_rules! uuid_reply {
    ($reply:ident) => {
        impl $crate::codec::ReplyMessage for $reply {
            fn echo(
                &mut self,
                uuid: Option<$crate::scalar::Guid>,
                _scope: Option<&$crate::msg::common::PatientScope>,
            ) {
                self.uuid = uuid;
            }
        }
    };
}
pub(crate) use uuid_reply;

/// Checks that an element has the expected name. The error repeats the element's name only
/// when it is one of the code's own message names.
pub fn check_root(el: &Element, expected: &'static str) -> Result<(), DecodeError> {
    if el.name == expected {
        return Ok(());
    }
    Err(DecodeError::WrongRoot {
        expected: MessageName(expected),
        found: crate::MESSAGE_ROOTS
            .iter()
            .copied()
            .find(|known| *known == el.name),
    })
}

fn describe_root(found: &Option<&'static str>) -> String {
    match found {
        Some(name) => format!("<{name}>"),
        None => "(not a message this server knows)".to_owned(),
    }
}

/// Typed access to one element's attributes and children, naming the element in errors.
pub(crate) struct Fields<'a> {
    pub(crate) el: &'a Element,
    pub(crate) name: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(el: &'a Element, name: &'static str) -> Self {
        Fields { el, name }
    }

    /// A present, non-empty attribute (surrounding white space removed).
    pub(crate) fn opt(&self, attr: &'static str) -> Option<String> {
        self.el
            .get(attr)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub(crate) fn req(&self, attr: &'static str) -> Result<String, DecodeError> {
        self.opt(attr).ok_or(DecodeError::Missing {
            element: self.name,
            attr,
        })
    }

    pub(crate) fn opt_with<T, E>(
        &self,
        attr: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, DecodeError> {
        match self.opt(attr) {
            None => Ok(None),
            Some(v) => parse(&v).map(Some).map_err(|_| DecodeError::Invalid {
                element: self.name,
                attr,
                expected,
            }),
        }
    }

    pub(crate) fn req_with<T, E>(
        &self,
        attr: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, DecodeError> {
        self.opt_with(attr, expected, parse)?
            .ok_or(DecodeError::Missing {
                element: self.name,
                attr,
            })
    }

    pub(crate) fn opt_parse<T: FromStr>(
        &self,
        attr: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, DecodeError> {
        self.opt_with(attr, expected, |s| s.parse().map_err(|_| ()))
    }

    pub(crate) fn child(&self, name: &'static str) -> Result<Fields<'a>, DecodeError> {
        self.el
            .first(name)
            .map(|el| Fields::new(el, name))
            .ok_or(DecodeError::MissingChild {
                element: self.name,
                child: name,
            })
    }

    pub(crate) fn opt_child(&self, name: &'static str) -> Option<Fields<'a>> {
        self.el.first(name).map(|el| Fields::new(el, name))
    }

    pub(crate) fn children(&self, name: &'static str) -> impl Iterator<Item = Fields<'a>> + 'a {
        self.el.all(name).map(move |el| Fields::new(el, name))
    }

    /// The request/reply `uuid`, which must be a GUID when present.
    pub(crate) fn uuid(&self) -> Result<Option<Guid>, DecodeError> {
        self.opt_parse(
            "uuid",
            "a GUID such as 0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93",
        )
    }
}

/// Finds a request's `uuid` in a body that may not even be well-formed, so that an `Error`
/// about it can still echo the caller's GUID. Only a value that parses as a GUID is returned
/// (and it is written back in canonical form), so nothing else of the body can reach a reply.
pub fn sniff_uuid(body: &[u8]) -> Option<Guid> {
    let head = body.get(..body.len().min(4096)).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    let mut rest = text.as_ref();
    while let Some((_, after)) = rest.split_once("uuid=") {
        let mut chars = after.chars();
        let quote = chars.next()?;
        if quote == '"' || quote == '\'' {
            let value = chars.as_str();
            if let Some(Ok(g)) = value.split_once(quote).map(|(v, _)| v.parse()) {
                return Some(g);
            }
        }
        rest = after;
    }
    None
}

/// The practice and patient a request names on its root element, found without decoding the
/// request (see [`sniff_root_ids`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootIds {
    /// `unitId`, or for the `LinkAccount` family (which has none) `organisationCode`: the
    /// practice's ODS code as sent, trimmed.
    pub unit_id: Option<String>,
    /// `patientId`, trimmed.
    pub patient_id: Option<String>,
}

/// The longest identifier [`sniff_root_ids`] returns; a longer value is left out, since no ODS
/// code or patient id is that long.
pub const MAX_SNIFFED_ID: usize = 64;

/// Reads `unitId` (or `organisationCode`) and `patientId` from the attributes of a body's root
/// element, for matching a request to fault rules before it is decoded. Only the root's start
/// tag is read, within the first 4 KiB; a body that is not XML up to there, has a DOCTYPE, or
/// whose values need more than the predefined entities gives what was found before the
/// problem (usually nothing). Total: no input makes it panic.
pub fn sniff_root_ids(body: &[u8]) -> RootIds {
    use quick_xml::events::Event;
    let head = body.get(..body.len().min(4096)).unwrap_or(body);
    let text = String::from_utf8_lossy(head);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut ids = RootIds::default();
    loop {
        let start = match reader.read_event() {
            Ok(Event::Start(s)) | Ok(Event::Empty(s)) => s,
            Ok(Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::Text(_)) => continue,
            _ => return ids,
        };
        let mut organisation = None;
        for attr in start.attributes().flatten() {
            let key = attr.key.local_name();
            let slot = match key.as_ref() {
                "unitId" => &mut ids.unit_id,
                "organisationCode" => &mut organisation,
                "patientId" => &mut ids.patient_id,
                _ => continue,
            };
            let Ok(value) = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
                continue;
            };
            let value = value.trim();
            if !value.is_empty() && value.len() <= MAX_SNIFFED_ID && slot.is_none() {
                *slot = Some(value.to_owned());
            }
        }
        if ids.unit_id.is_none() {
            ids.unit_id = organisation;
        }
        return ids;
    }
}
