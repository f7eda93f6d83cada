//! `GET /metrics` on the admin listener, through a real server: what a few requests leave in
//! it, and that it holds no credential or patient value.

use pfs_client::ExposeSecret;
use pfs_testkit::TestServer;

/// The value of the sample `series` (name and labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

#[tokio::test]
async fn metrics_count_requests_store_calls_and_connections_without_values() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let child_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let client = t.client();
    let passphrase = t.link(&client, &ada).await.unwrap();
    let session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    let suid = session.suid().expose_secret().to_owned();
    // What the housekeeping task sets the live-sessions gauge from.
    let done = t.server.pfs.housekeeping(t.clock_now()).await.unwrap();
    assert_eq!(done.live_sessions, 1);
    session.select_patient(&child_id).await.unwrap();
    // An Error: a PatientSelected on a session that does not exist.
    let refused = client
        .raw(
            "PatientSelected",
            Some("no-such-session"),
            format!(
                r#"<PatientSelected apiVersion="1" uuid="{}" patientId="{child_id}" onlineUserId="{}" unitId="{}"/>"#,
                uuid::Uuid::new_v4(),
                session.online_user_id(),
                ada.organisation_code
            ),
        )
        .await
        .unwrap();
    let code = refused
        .body
        .split("errorCode=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an Error reply")
        .to_owned();
    // A type header naming no message, and one that is a value a client made up.
    client.raw("Bogus", None, "<Bogus/>".into()).await.unwrap();
    client
        .raw(&ada.nhs_number, None, "<x/>".into())
        .await
        .unwrap();

    let (status, _) = t.admin_text("/metrics", None).await.unwrap();
    assert_eq!(status, 401, "the admin token is required");
    let (status, _) = t.admin_text("/metrics", Some("wrong")).await.unwrap();
    assert_eq!(status, 401);
    let (status, text) = t
        .admin_text("/metrics", Some(&t.server.admin_token))
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");

    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));
    assert_eq!(
        count(r#"pfs_requests_total{type="LinkAccount",code="0"}"#),
        1.0
    );
    assert_eq!(
        count(r#"pfs_requests_total{type="Authenticate",code="0"}"#),
        1.0
    );
    assert_eq!(
        count(r#"pfs_requests_total{type="PatientSelected",code="0"}"#),
        1.0
    );
    assert_eq!(
        count(&format!(
            r#"pfs_requests_total{{type="PatientSelected",code="{code}"}}"#
        )),
        1.0
    );
    let unknown: f64 = text
        .lines()
        .filter(|l| l.starts_with(r#"pfs_requests_total{type="unknown","#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        unknown, 2.0,
        "both made-up types are counted as unknown\n{text}"
    );
    assert_eq!(
        count(r#"pfs_request_duration_seconds_count{type="PatientSelected"}"#),
        2.0
    );
    assert!(
        text.contains(r#"pfs_request_duration_seconds_bucket{type="PatientSelected",le="0.001"}"#)
    );
    assert!(count(r#"pfs_request_duration_seconds_sum{type="PatientSelected"}"#) > 0.0);
    assert!(count(r#"pfs_store_call_duration_seconds_count{backend="sqlite",kind="read"}"#) >= 3.0);
    assert!(
        count(r#"pfs_store_call_duration_seconds_count{backend="sqlite",kind="write"}"#) >= 2.0
    );
    assert!(
        text.contains(r#"pfs_store_call_duration_seconds_bucket{backend="sqlite",kind="read",le="#)
    );
    assert!(
        count("pfs_connections") >= 1.0,
        "the SDK keeps its connection open"
    );
    assert_eq!(count("pfs_panics_caught_total"), 0.0);
    assert_eq!(count("pfs_kdf_queue_depth"), 0.0);
    assert!(
        count("pfs_kdf_hashes_total") >= 1.0,
        "the linkage key was checked"
    );
    assert!(count("pfs_sessions_live") >= 0.0);
    assert!(text.contains("# TYPE pfs_request_duration_seconds histogram"));
    assert!(text.contains("# HELP pfs_requests_total "));

    for value in [
        suid.as_str(),
        passphrase.expose_secret(),
        &ada.linkage_key,
        &ada.nhs_number,
        &ada.last_name,
        &ada.account_id,
        &t.demo.provider_id,
        &child_id,
        "no-such-session",
        "Bogus",
    ] {
        assert!(!text.contains(value), "/metrics shows {value:?}\n{text}");
    }
}

/// Each server has its own recorder: a second server in the same process starts from zero.
#[tokio::test]
async fn servers_in_one_process_keep_their_own_figures() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    a.client().check_version().await.unwrap();
    let series = r#"pfs_requests_total{type="CheckVersion",code="0"}"#;
    let (_, text_a) = a
        .admin_text("/metrics", Some(&a.server.admin_token))
        .await
        .unwrap();
    let (_, text_b) = b
        .admin_text("/metrics", Some(&b.server.admin_token))
        .await
        .unwrap();
    assert_eq!(sample(&text_a, series), Some(1.0));
    // Success counters are registered up front, so B shows the series at zero.
    assert_eq!(sample(&text_b, series), Some(0.0));
}
