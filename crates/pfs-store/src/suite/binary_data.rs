//! Stored files ([`BinaryDataStore`](pfs_core::store::BinaryDataStore)).

use pfs_core::model::{BinaryKind, NewBinaryData};
use pfs_core::{Store, StoreError};

use super::{t, world};

fn file(id: &str, patient_id: &str, pages: Vec<Vec<u8>>, uploading: bool) -> NewBinaryData {
    NewBinaryData {
        id: id.into(),
        patient_id: patient_id.into(),
        kind: BinaryKind::Document,
        file_name: "scan.png".into(),
        file_type: "png".into(),
        pages,
        uploading,
        created_at: t(1_000),
    }
}

/// Files round-trip byte for byte, page by page; their description counts pages and bytes;
/// ids are unique and a file needs a known patient.
pub async fn binary_data_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    // Every byte value, a zero-length page and a page of a few megabytes.
    let all_bytes: Vec<u8> = (0..=255).collect();
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let pages = vec![all_bytes.clone(), Vec::new(), big.clone()];
    let f = NewBinaryData {
        kind: BinaryKind::Attachment,
        ..file("100000000001", me, pages, false)
    };
    store.insert_binary_data(&f).await.unwrap();

    let info = store
        .binary_data_info("100000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.patient_id, *me);
    assert_eq!(info.kind, BinaryKind::Attachment);
    assert_eq!(
        (info.file_name.as_str(), info.file_type.as_str()),
        ("scan.png", "png")
    );
    assert_eq!(info.size, 256 + big.len() as u64);
    assert_eq!(info.pages, 3);
    assert!(!info.uploading);
    assert_eq!(info.created_at, t(1_000));
    assert_eq!(
        store.binary_data_page("100000000001", 1).await.unwrap(),
        Some(all_bytes)
    );
    assert_eq!(
        store.binary_data_page("100000000001", 2).await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store.binary_data_page("100000000001", 3).await.unwrap(),
        Some(big)
    );
    assert_eq!(
        store.binary_data_page("100000000001", 4).await.unwrap(),
        None
    );
    assert_eq!(
        store.binary_data_page("100000000001", 0).await.unwrap(),
        None
    );
    assert_eq!(store.binary_data_info("100000000002").await.unwrap(), None);

    assert!(matches!(
        store
            .insert_binary_data(&file("100000000001", me, vec![vec![1]], false))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .insert_binary_data(&file("100000000003", "9999999", vec![vec![1]], false))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // A refused insert stores no page either.
    assert_eq!(
        store.binary_data_page("100000000003", 1).await.unwrap(),
        None
    );
}

/// Pages are added while a file is uploading and refused once it is complete.
pub async fn binary_data_upload(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    store
        .insert_binary_data(&file("200000000001", me, Vec::new(), true))
        .await
        .unwrap();
    let info = store
        .binary_data_info("200000000001")
        .await
        .unwrap()
        .unwrap();
    assert!(info.uploading);
    assert_eq!((info.pages, info.size), (0, 0));

    assert!(
        store
            .append_binary_page("200000000001", b"first")
            .await
            .unwrap()
    );
    assert!(
        store
            .append_binary_page("200000000001", b"second page")
            .await
            .unwrap()
    );
    assert!(store.complete_binary_data("200000000001").await.unwrap());
    assert!(
        !store
            .append_binary_page("200000000001", b"late")
            .await
            .unwrap()
    );
    assert!(
        !store
            .append_binary_page("200000000009", b"x")
            .await
            .unwrap()
    );
    assert!(!store.complete_binary_data("200000000009").await.unwrap());

    let info = store
        .binary_data_info("200000000001")
        .await
        .unwrap()
        .unwrap();
    assert!(!info.uploading);
    assert_eq!((info.pages, info.size), (2, 16));
    assert_eq!(
        store.binary_data_page("200000000001", 1).await.unwrap(),
        Some(b"first".to_vec())
    );
    assert_eq!(
        store.binary_data_page("200000000001", 2).await.unwrap(),
        Some(b"second page".to_vec())
    );
    assert_eq!(
        store.binary_data_page("200000000001", 3).await.unwrap(),
        None
    );
}
