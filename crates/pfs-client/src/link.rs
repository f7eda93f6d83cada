//! [`LinkRequest`]: the patient details and variant of a `LinkAccount` call.

use std::fmt;

use chrono::NaiveDate;
use pfs_wire::LinkVariant;
use secrecy::SecretString;

/// What [`Client::link_account`](crate::Client::link_account) sends: the practice, the
/// patient's last name and date of birth, and one of the three variants.
///
/// Build it with [`register`](Self::register), [`retrieve`](Self::retrieve) or
/// [`create`](Self::create). `Debug` prints the variant only, never patient details or keys.
#[derive(Clone)]
pub struct LinkRequest {
    /// The practice ODS code (`organisationCode`).
    pub organisation_code: String,
    /// The patient's last name (`lastName`).
    pub last_name: String,
    /// The patient's date of birth (`dateOfBirth`).
    pub date_of_birth: NaiveDate,
    /// The variant and its extra attributes.
    pub variant: LinkVariant,
}

impl fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkRequest")
            .field("organisation_code", &self.organisation_code)
            .field("variant", &self.variant.name())
            .finish_non_exhaustive()
    }
}

impl LinkRequest {
    /// Register: exchange an account id and the linkage key the practice gave the patient for
    /// a long-term passphrase (`LinkAccountReply::passphrase`).
    pub fn register(
        organisation_code: impl Into<String>,
        last_name: impl Into<String>,
        date_of_birth: NaiveDate,
        account_id: impl Into<String>,
        linkage_key: SecretString,
    ) -> Self {
        LinkRequest {
            organisation_code: organisation_code.into(),
            last_name: last_name.into(),
            date_of_birth,
            variant: LinkVariant::Register {
                account_id: account_id.into(),
                linkage_key,
            },
        }
    }

    /// Retrieve (`retrieveOnly="y"`): look up an existing account id and linkage key by NHS
    /// number.
    pub fn retrieve(
        organisation_code: impl Into<String>,
        last_name: impl Into<String>,
        date_of_birth: NaiveDate,
        nhs_number: impl Into<String>,
    ) -> Self {
        LinkRequest {
            organisation_code: organisation_code.into(),
            last_name: last_name.into(),
            date_of_birth,
            variant: LinkVariant::Retrieve {
                nhs_number: nhs_number.into(),
            },
        }
    }

    /// Create: create an online account for the patient with this NHS number; add contact
    /// details with [`email_address`](Self::email_address) and
    /// [`mobile_no`](Self::mobile_no).
    pub fn create(
        organisation_code: impl Into<String>,
        last_name: impl Into<String>,
        date_of_birth: NaiveDate,
        nhs_number: impl Into<String>,
    ) -> Self {
        LinkRequest {
            organisation_code: organisation_code.into(),
            last_name: last_name.into(),
            date_of_birth,
            variant: LinkVariant::Create {
                nhs_number: nhs_number.into(),
                email_address: None,
                mobile_no: None,
            },
        }
    }

    /// Sets `emailAddress` on a [`create`](Self::create) request; other variants have no such
    /// attribute and are returned unchanged.
    pub fn email_address(mut self, email: impl Into<String>) -> Self {
        if let LinkVariant::Create { email_address, .. } = &mut self.variant {
            *email_address = Some(email.into());
        }
        self
    }

    /// Sets `mobileNo` on a [`create`](Self::create) request; other variants have no such
    /// attribute and are returned unchanged.
    pub fn mobile_no(mut self, mobile: impl Into<String>) -> Self {
        if let LinkVariant::Create { mobile_no, .. } = &mut self.variant {
            *mobile_no = Some(mobile.into());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dob() -> NaiveDate {
        NaiveDate::from_ymd_opt(1980, 2, 14).expect("valid date")
    }

    #[test]
    fn create_with_contact_details() {
        let r = LinkRequest::create("X12345", "Example", dob(), "9990001112")
            .email_address("ada@example.org")
            .mobile_no("07700900000");
        match &r.variant {
            LinkVariant::Create {
                nhs_number,
                email_address,
                mobile_no,
            } => {
                assert_eq!(nhs_number, "9990001112");
                assert_eq!(email_address.as_deref(), Some("ada@example.org"));
                assert_eq!(mobile_no.as_deref(), Some("07700900000"));
            }
            _ => panic!("not a create request"),
        }
    }

    #[test]
    fn contact_details_do_not_change_other_variants() {
        let r = LinkRequest::retrieve("X12345", "Example", dob(), "9990001112")
            .email_address("ada@example.org");
        assert!(matches!(r.variant, LinkVariant::Retrieve { .. }));
    }

    #[test]
    fn debug_hides_patient_details_and_keys() {
        let r = LinkRequest::register(
            "X12345",
            "Example",
            dob(),
            "400123987",
            SecretString::from("LK-7QX2-9HTR"),
        );
        let d = format!("{r:?}");
        assert!(d.contains("register"), "{d}");
        for hidden in ["Example", "1980", "400123987", "LK-7QX2"] {
            assert!(!d.contains(hidden), "{d}");
        }
    }
}
