//! Small records both backends' own tests store.

use chrono::{DateTime, Utc};
use pfs_core::model::{OnlineAccount, Patient, Practice, PracticeSettings, Provider};

pub fn t(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_740_823_200_123 + offset_ms).unwrap()
}

pub fn provider(id: &str) -> Provider {
    Provider {
        id: id.into(),
        name: "Provider".into(),
        fingerprint: "f".repeat(64),
        trusted_identity: false,
        created_at: t(0),
        revoked_at: None,
    }
}

pub fn practice(ods: &str) -> Practice {
    Practice {
        ods: ods.into(),
        name: "Riverside Surgery".into(),
        address: "1 River Street".into(),
        settings: PracticeSettings::default(),
    }
}

pub fn patient(id: &str, ods: &str) -> Patient {
    Patient {
        id: id.into(),
        ods: ods.into(),
        nhs_number: "9000000009".into(),
        title: None,
        first_name: "Ada".into(),
        last_name: "Example".into(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 1, 2).unwrap(),
        gender: "Female".into(),
        address: "2 Low Road".into(),
    }
}

pub fn account(id: &str, patient_id: &str) -> OnlineAccount {
    OnlineAccount {
        id: id.into(),
        patient_id: patient_id.into(),
        email: None,
        mobile: None,
        created_at: t(0),
        ended_at: None,
    }
}
