//! The SDK's examples (crates/pfs-client/examples), run against a test server with its demo
//! credentials, as `pfs serve --demo` writes them.

// The fault example includes booking.rs as its module `booking`: that one copy serves both.
use fault_handling::booking;

#[path = "../../../pfs-client/examples/medication_order.rs"]
#[allow(dead_code)]
mod medication_order;

use pfs_testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_example_books_and_cancels() {
    let t = TestServer::start().await.unwrap();
    let dir = t.server.data_dir.path("demo");
    let client = booking::client(&t.endpoint(), &dir).unwrap();
    let account = booking::account(&dir, None).unwrap();
    assert_eq!(account.account_id, t.accounts[0].account_id);
    let booked = booking::book_and_cancel(&client, &account).await.unwrap();
    assert!(booked.start_date < booked.end_date, "{booked:?}");
    // Nothing is left booked, and the example can run again.
    booking::book_and_cancel(&client, &account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_medication_example_orders_and_cancels() {
    let t = TestServer::start().await.unwrap();
    let dir = t.server.data_dir.path("demo");
    let client = medication_order::client(&t.endpoint(), &dir).unwrap();
    let account = medication_order::account(&dir, Some("Jones")).unwrap();
    assert_eq!(account.last_name, "Jones");
    let order = medication_order::order_and_cancel(&client, &account)
        .await
        .unwrap();
    assert!(!order.drug.is_empty(), "{order:?}");
    // The cancelled course can be ordered again.
    let again = medication_order::order_and_cancel(&client, &account)
        .await
        .unwrap();
    assert_ne!(again.request_id, order.request_id);
}

#[path = "../../../pfs-client/examples/fault_handling.rs"]
#[allow(dead_code)]
mod fault_handling;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_example_survives_a_failing_read_and_finds_a_lost_booking() {
    let t = TestServer::start().await.unwrap();
    let dir = t.server.data_dir.path("demo");
    let client = booking::client(&t.endpoint(), &dir).unwrap();
    let account = booking::account(&dir, Some("Smith")).unwrap();
    let admin = fault_handling::Admin::from_data_dir(t.server.data_dir.root()).unwrap();
    let seen = fault_handling::check_error_handling(&client, &admin, &account)
        .await
        .unwrap();
    assert_eq!(seen.read_failures_survived, 2);
    assert!(seen.lost_booking_found);
    // The rules it added are gone, and nothing is left booked.
    let (_, rules) = t.admin("GET", "/api/faults", None).await.unwrap();
    assert_eq!(rules, serde_json::json!([]));
    let again = fault_handling::check_error_handling(&client, &admin, &account)
        .await
        .unwrap();
    assert!(again.lost_booking_found);
}
