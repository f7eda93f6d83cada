//! Golden tests of `RequestBinaryData` (wire reference §2.17).

use pfs_wire::{DecodeError, Guid, PatientScope, RequestBinaryDataReply, WireMessage};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";

fn scope() -> PatientScope {
    PatientScope {
        patient_id: "9000001".into(),
        online_user_id: "9000001".into(),
    }
}

#[test]
fn request_binary_data_reply() {
    let reply = RequestBinaryDataReply {
        scope: Some(scope()),
        uuid: Some(UUID.parse::<Guid>().unwrap()),
        file_type: "png".into(),
        pages: vec![
            RequestBinaryDataReply::encode_page(b"\x89PNG\r\n\x1a\n"),
            RequestBinaryDataReply::encode_page(&[0, 255, 128]),
        ],
    };
    let encoded = reply.encode();
    assert_eq!(
        encoded,
        format!(
            "{DECL}{}",
            concat!(
                r#"<RequestBinaryDataReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
                r#"<BinaryData fileType="png">"#,
                r#"<BinaryDataPage>iVBORw0KGgo=</BinaryDataPage>"#,
                r#"<BinaryDataPage>AP+A</BinaryDataPage>"#,
                r#"</BinaryData></RequestBinaryDataReply>"#
            )
        )
    );
    let decoded = RequestBinaryDataReply::decode(encoded.as_bytes()).unwrap();
    assert_eq!(decoded, reply);
    assert_eq!(
        decoded.page_bytes().unwrap(),
        vec![b"\x89PNG\r\n\x1a\n".to_vec(), vec![0, 255, 128]]
    );
}

#[test]
fn pages_with_line_breaks_decode_and_bad_base64_is_an_error() {
    let body = concat!(
        r#"<RequestBinaryDataReply><BinaryData fileType="PDF">"#,
        "<BinaryDataPage>JVBE\r\nRi0x\nLjQ=</BinaryDataPage>",
        r#"</BinaryData></RequestBinaryDataReply>"#
    );
    let reply = RequestBinaryDataReply::decode(body.as_bytes()).unwrap();
    assert_eq!(reply.file_type, "PDF");
    assert_eq!(reply.page_bytes().unwrap(), vec![b"%PDF-1.4".to_vec()]);

    let bad = r#"<RequestBinaryDataReply><BinaryData fileType="pdf"><BinaryDataPage>%%%</BinaryDataPage></BinaryData></RequestBinaryDataReply>"#;
    let reply = RequestBinaryDataReply::decode(bad.as_bytes()).unwrap();
    assert!(matches!(
        reply.page_bytes(),
        Err(DecodeError::Invalid {
            element: "BinaryDataPage",
            ..
        })
    ));
    // A reply without BinaryData is not a file.
    assert!(RequestBinaryDataReply::decode(b"<RequestBinaryDataReply/>").is_err());
}
