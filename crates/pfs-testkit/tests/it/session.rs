//! Sessions: Authenticate, PatientSelected, ListServiceAccesses, Logoff, CheckVersion.

use pfs_testkit::TestServer;

#[tokio::test]
async fn demo_user_logs_in_acts_for_child_and_logs_off() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let child_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = t.login("Example").await.unwrap();
    let reply = session.reply().clone();
    assert_eq!(reply.patient_id.as_deref(), Some(reply.online_user_id.as_str()));
    assert_eq!(reply.user.patient_id, reply.online_user_id);
    assert!(reply.people.iter().any(|p| p.patient_id == child_id));
    let selected = session.select_patient(&child_id).await.unwrap();
    assert_eq!(selected.person.patient_id, child_id);
    assert_eq!(session.selected_patient_id(), child_id);
    let services = session.list_service_accesses().await.unwrap();
    assert!(services.services.iter().any(|s| s.description == "Messaging" && s.status == "A"));
    session.logoff().await.unwrap();
}
