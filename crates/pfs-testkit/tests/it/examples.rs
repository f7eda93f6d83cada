//! The SDK's examples (crates/pfs-client/examples), run against a test server with its demo
//! credentials, as `pfs serve --demo` writes them.

#[path = "../../../pfs-client/examples/booking.rs"]
#[allow(dead_code)]
mod booking;

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
