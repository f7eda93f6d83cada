//! The online services the API offers and how switches decide whether each is available.
//!
//! A patient's own switch wins over the practice's, which wins over the default (on).

use pfs_wire::{ServiceAccess, YesNo};

use crate::model::ServiceSwitch;

/// One online service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The key used by the admin API and the store, e.g. `messaging`.
    pub key: &'static str,
    /// `ServiceAccess/@description`; clients match `Messaging` exactly.
    pub description: &'static str,
    /// `ServiceAccess/@serviceIdentifier`.
    pub identifier: &'static str,
}

/// Every service, in the order `ListServiceAccesses` lists them.
pub const SERVICES: &[Service] = &[
    Service {
        key: "appointments",
        description: "Appointments",
        identifier: "101",
    },
    Service {
        key: "repeat-prescriptions",
        description: "Repeat prescriptions",
        identifier: "102",
    },
    Service {
        key: "medical-record",
        description: "Medical record",
        identifier: "103",
    },
    Service {
        key: "test-results",
        description: "Test results",
        identifier: "104",
    },
    Service {
        key: "documents",
        description: "Documents",
        identifier: "105",
    },
    Service {
        key: "demographics",
        description: "Demographics",
        identifier: "106",
    },
    Service {
        key: "nominated-pharmacy",
        description: "Nominated pharmacy",
        identifier: "107",
    },
    Service {
        key: "record-audit",
        description: "Record access log",
        identifier: "108",
    },
    Service {
        key: "account",
        description: "Account management",
        identifier: "109",
    },
    Service {
        key: "messaging",
        description: "Messaging",
        identifier: "512",
    },
];

/// The service with this key.
pub fn service(key: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.key == key)
}

/// Whether `service` is on, given the practice's and the patient's switches.
pub fn is_enabled(service: &str, practice: &[ServiceSwitch], patient: &[ServiceSwitch]) -> bool {
    let find = |switches: &[ServiceSwitch]| {
        switches
            .iter()
            .find(|s| s.service == service)
            .map(|s| s.enabled)
    };
    find(patient).or_else(|| find(practice)).unwrap_or(true)
}

/// The `ServiceAccess` list for a patient.
pub fn accesses(practice: &[ServiceSwitch], patient: &[ServiceSwitch]) -> Vec<ServiceAccess> {
    SERVICES
        .iter()
        .map(|s| {
            let on = is_enabled(s.key, practice, patient);
            ServiceAccess {
                description: s.description.to_owned(),
                service_identifier: s.identifier.to_owned(),
                status: if on { "A" } else { "N" }.to_owned(),
                status_desc: if on { "Available" } else { "Not available" }.to_owned(),
                read_only: YesNo(false),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(service: &str, enabled: bool) -> ServiceSwitch {
        ServiceSwitch {
            service: service.to_owned(),
            enabled,
        }
    }

    #[test]
    fn patient_beats_practice_beats_default() {
        assert!(is_enabled("messaging", &[], &[]));
        assert!(!is_enabled("messaging", &[sw("messaging", false)], &[]));
        assert!(is_enabled(
            "messaging",
            &[sw("messaging", false)],
            &[sw("messaging", true)]
        ));
        assert!(!is_enabled("messaging", &[], &[sw("messaging", false)]));
    }

    #[test]
    fn messaging_is_listed_as_clients_expect() {
        let list = accesses(&[], &[]);
        let m = list.iter().find(|s| s.description == "Messaging").unwrap();
        assert_eq!(
            (m.status.as_str(), m.service_identifier.as_str()),
            ("A", "512")
        );
        assert_eq!(list.len(), SERVICES.len());
    }
}
