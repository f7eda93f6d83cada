//! `LinkAccount` in its four variants, and `LinkAccountReply`.

use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};

use super::common::{Application, Header};
use crate::codec::{DecodeError, Fields, RequestMessage, WireMessage, uuid_reply};
use crate::scalar::{Guid, YesNo, format_date_sortable, parse_date};
use crate::xml::Element;

/// `LinkAccount`: every variant shares these attributes and differs in [`LinkVariant`].
#[derive(Clone)]
pub struct LinkAccount {
    /// Common attributes (no `unitId`: the practice is `organisationCode`).
    pub header: Header,
    /// The practice ODS code.
    pub organisation_code: String,
    /// The patient's last name as the patient typed it.
    pub last_name: String,
    /// The patient's date of birth.
    pub date_of_birth: NaiveDate,
    /// The calling application.
    pub application: Application,
    /// What the call asks for.
    pub variant: LinkVariant,
}

/// The four `LinkAccount` variants, told apart by their extra attributes.
#[derive(Clone)]
pub enum LinkVariant {
    /// `accountId` + `passphrase` (= the practice's linkage key): exchange them for a long-term
    /// passphrase bound to the calling provider.
    Register {
        /// The online account id.
        account_id: String,
        /// The linkage key (sent in the `passphrase` attribute).
        linkage_key: SecretString,
    },
    /// `retrieveOnly="y"` + `nhsNumber`: look up the account id and a linkage key.
    Retrieve {
        /// The patient's NHS number.
        nhs_number: String,
    },
    /// `nhsNumber` + optional `emailAddress`/`mobileNo`: create an online account (the legacy
    /// `AddNhsUser` form is this variant without e-mail and mobile).
    Create {
        /// The patient's NHS number.
        nhs_number: String,
        /// `emailAddress`.
        email_address: Option<String>,
        /// `mobileNo`.
        mobile_no: Option<String>,
    },
}

impl LinkVariant {
    /// The variant's name as documented: `register`, `retrieve`, `create`.
    pub fn name(&self) -> &'static str {
        match self {
            LinkVariant::Register { .. } => "register",
            LinkVariant::Retrieve { .. } => "retrieve",
            LinkVariant::Create { .. } => "create",
        }
    }
}

impl std::fmt::Debug for LinkAccount {
    // Last name, date of birth and NHS number identify the patient: print the shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkAccount")
            .field("header", &self.header)
            .field("variant", &self.variant.name())
            .finish_non_exhaustive()
    }
}

impl WireMessage for LinkAccount {
    const ROOT: &'static str = "LinkAccount";

    fn to_element(&self) -> Element {
        let el = self
            .header
            .write(Element::new(Self::ROOT))
            .attr("organisationCode", self.organisation_code.clone())
            .attr("lastName", self.last_name.clone())
            .attr("dateOfBirth", format_date_sortable(self.date_of_birth));
        let el = match &self.variant {
            LinkVariant::Register {
                account_id,
                linkage_key,
            } => el
                .attr("accountId", account_id.clone())
                .attr("passphrase", linkage_key.expose_secret()),
            LinkVariant::Retrieve { nhs_number } => el
                .attr("retrieveOnly", YesNo(true).as_str())
                .attr("nhsNumber", nhs_number.clone()),
            LinkVariant::Create {
                nhs_number,
                email_address,
                mobile_no,
            } => el
                .attr("nhsNumber", nhs_number.clone())
                .opt_attr("emailAddress", email_address.clone())
                .opt_attr("mobileNo", mobile_no.clone()),
        };
        el.child(self.application.to_element())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let retrieve = f
            .opt_parse::<YesNo>("retrieveOnly", "y or n")?
            .unwrap_or_default();
        let variant = if retrieve.0 {
            LinkVariant::Retrieve {
                nhs_number: f.req("nhsNumber")?,
            }
        } else if f.opt("accountId").is_some() || f.opt("passphrase").is_some() {
            LinkVariant::Register {
                account_id: f.req("accountId")?,
                linkage_key: SecretString::from(f.req("passphrase")?),
            }
        } else if f.opt("nhsNumber").is_some() {
            LinkVariant::Create {
                nhs_number: f.req("nhsNumber")?,
                email_address: f.opt("emailAddress"),
                mobile_no: f.opt("mobileNo"),
            }
        } else {
            return Err(DecodeError::Shape(
                "LinkAccount needs accountId and passphrase (register), retrieveOnly=\"y\" and nhsNumber (retrieve), or nhsNumber (create)",
            ));
        };
        Ok(LinkAccount {
            header: Header::read(&f)?,
            organisation_code: f.req("organisationCode")?,
            last_name: f.req("lastName")?,
            date_of_birth: f.req_with(
                "dateOfBirth",
                "a date such as 1985-05-29T00:00:00",
                parse_date,
            )?,
            application: Application::read(&f)?,
            variant,
        })
    }
}

/// `LinkAccountReply`.
#[derive(Clone, Default)]
pub struct LinkAccountReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The online account id (absent from a retrieve when the patient has no online account).
    pub account_id: Option<String>,
    /// The long-term passphrase for `Authenticate` (register and create).
    pub passphrase: Option<SecretString>,
    /// A linkage key (retrieve and create); clients HTML-decode it.
    pub passphrase_to_link: Option<SecretString>,
}

impl std::fmt::Debug for LinkAccountReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkAccountReply")
            .field("uuid", &self.uuid)
            .field("account_id", &self.account_id)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "passphrase_to_link",
                &self.passphrase_to_link.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl WireMessage for LinkAccountReply {
    const ROOT: &'static str = "LinkAccountReply";

    fn to_element(&self) -> Element {
        Element::new(Self::ROOT)
            .opt_attr("accountId", self.account_id.clone())
            .opt_attr(
                "passphrase",
                self.passphrase
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned()),
            )
            .opt_attr(
                "passphraseToLink",
                self.passphrase_to_link
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned()),
            )
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(LinkAccountReply {
            uuid: f.uuid()?,
            account_id: f.opt("accountId"),
            passphrase: f.opt("passphrase").map(SecretString::from),
            passphrase_to_link: f.opt("passphraseToLink").map(SecretString::from),
        })
    }
}

impl RequestMessage for LinkAccount {
    type Reply = LinkAccountReply;
    const NEEDS_SESSION: bool = false;
    const SENDS_APPLICATION: bool = true;
    fn header(&self) -> &Header {
        &self.header
    }
}

uuid_reply!(LinkAccountReply);
