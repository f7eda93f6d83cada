//! RequestAccountInformation and ResetOnlineAccount over real mutual TLS on both stores, and
//! across two server instances on PostgreSQL: unlinking ends the application's sessions at
//! once, its old passphrase gets `9`, the old linkage key no longer links, and other
//! applications and accounts are untouched.

use pfs_client::{Client, Error, ExposeSecret, SecretString, Session};
use pfs_testkit::{DemoAccount, TestServer};
use pfs_wire::{
    RequestAccountInformation, RequestAccountInformationReply, ResetOnlineAccount,
    ResetOnlineAccountReply,
};

use crate::session::{XMLNS, error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";

/// One application's view of one account.
struct App {
    client: Client,
    account: DemoAccount,
    passphrase: SecretString,
}

impl App {
    async fn link(t: &TestServer, client: Client, last_name: &str) -> App {
        let account = t.account(last_name).clone();
        let passphrase = t.link(&client, &account).await.unwrap();
        App {
            client,
            account,
            passphrase,
        }
    }

    async fn session(&self) -> Session {
        self.client
            .authenticate(ODS, &self.account.account_id, &self.passphrase)
            .await
            .unwrap()
    }

    async fn authenticate(&self) -> Result<Session, Error> {
        self.client
            .authenticate(ODS, &self.account.account_id, &self.passphrase)
            .await
    }
}

async fn info(s: &Session) -> RequestAccountInformationReply {
    s.request(&RequestAccountInformation {
        header: s.header(),
        scope: s.scope(),
    })
    .await
    .unwrap()
}

async fn reset(s: &Session, provider_id: Option<&str>) -> Result<ResetOnlineAccountReply, Error> {
    s.request(&ResetOnlineAccount {
        header: s.header(),
        scope: s.scope(),
        provider_id: provider_id.map(str::to_owned),
    })
    .await
}

/// Whether a session is still alive (keep-alive answers) or dead (`3`).
async fn alive(s: &Session) -> bool {
    match s.keep_alive().await {
        Ok(_) => true,
        Err(e) => {
            expect_pfs::<()>(Err(e), "3", &[]);
            false
        }
    }
}

async fn account_information(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let other = t.new_provider("Second App", false).await.unwrap();
    let a = App::link(&t, t.client(), "Nowak").await;
    let b = App::link(&t, t.client_for(&other), "Nowak").await;
    let s = a.session().await;
    let _ = b.session().await;
    let r = info(&s).await;
    assert_eq!(r.account_id, a.account.account_id);
    assert_eq!(r.user.patient_id, s.online_user_id());
    assert_eq!(r.user.name, "Mrs Hana Nowak");
    // Hana acts for her father George.
    assert_eq!(r.registration.len(), 2);
    assert_eq!(r.registration[0].patient_id, s.online_user_id());
    assert_eq!(r.registration[0].unit_name, "Riverside Surgery");
    assert_eq!(r.applications.len(), 2);
    let mine = r
        .applications
        .iter()
        .find(|x| x.provider_id == t.demo.provider_id)
        .expect("the caller's own application carries its own provider id");
    assert_eq!(mine.name, "openpfs demo app");
    let theirs = r
        .applications
        .iter()
        .find(|x| x.name == "Second App")
        .unwrap();
    assert_ne!(
        theirs.provider_id, other.provider_id,
        "never another app's id"
    );
    assert_eq!(theirs.provider_id.len(), 16);

    // As raw XML: the echo and the date format.
    let suid = s.suid().expose_secret().to_owned();
    let pid = s.online_user_id().to_owned();
    let uuid = new_uuid();
    let raw = t
        .client()
        .raw(
            "RequestAccountInformation",
            Some(&suid),
            format!(
                r#"<RequestAccountInformation {XMLNS} onlineUserId="{pid}" patientId="{pid}" unitId="{ODS}" uuid="{uuid}" apiVersion="1"/>"#
            ),
        )
        .await
        .unwrap();
    let el = ok_body(&raw, "RequestAccountInformationReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(pid.as_str()));
    assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
    assert_eq!(el.get("accountId"), Some(a.account.account_id.as_str()));
    for app in el.all("LinkedApplication") {
        for attr in ["dateLinked", "lastUsed"] {
            let v = app.get(attr).unwrap();
            assert_eq!(v.len(), 22, "{v}");
            assert!(v.ends_with(".0Z") && v.as_bytes()[10] == b'T', "{v}");
        }
    }
    assert!(!raw.body.contains(&other.provider_id));
}

async fn reset_one_application(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let other = t.new_provider("Second App", false).await.unwrap();
    let a = App::link(&t, t.client(), "Jones").await;
    let b = App::link(&t, t.client_for(&other), "Jones").await;
    let someone_else = App::link(&t, t.client_for(&other), "Hughes").await;
    let a1 = a.session().await;
    let a2 = a.session().await;
    let b1 = b.session().await;
    let c1 = someone_else.session().await;

    let theirs = info(&a1)
        .await
        .applications
        .into_iter()
        .find(|x| x.name == "Second App")
        .unwrap();
    // An unknown application is refused.
    expect_pfs(reset(&a1, Some("0000000000000000")).await, "9030", &[]);
    let r = reset(&a1, Some(&theirs.provider_id)).await.unwrap();
    assert_eq!(r.unlinked.len(), 1);
    assert_eq!(r.unlinked[0].name, "Second App");

    // The second app's session is dead and its passphrase refused; the caller's sessions and
    // another account's session of the second app live on.
    assert!(!alive(&b1).await);
    expect_pfs(b.authenticate().await, "9", &[]);
    assert!(alive(&a1).await);
    assert!(alive(&a2).await);
    assert!(alive(&c1).await);
    assert_eq!(info(&a1).await.applications.len(), 1);
    // The old linkage key no longer links, for any application.
    expect_pfs(
        b.client
            .link_account(TestServer::register(&b.account))
            .await,
        "8",
        &[&b.account.linkage_key],
    );
    // The practice issues a new key: the app can link again.
    let (status, issued) = t
        .admin(
            "POST",
            &format!("/api/patients/{}/account", a1.online_user_id()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{issued}");
    let renewed = DemoAccount {
        linkage_key: issued["linkageKey"].as_str().unwrap().to_owned(),
        ..b.account.clone()
    };
    let passphrase = t.link(&b.client, &renewed).await.unwrap();
    b.client
        .authenticate(ODS, &renewed.account_id, &passphrase)
        .await
        .unwrap();
}

async fn reset_every_application(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let other = t.new_provider("Second App", false).await.unwrap();
    let a = App::link(&t, t.client(), "Smith").await;
    let b = App::link(&t, t.client_for(&other), "Smith").await;
    let someone_else = App::link(&t, t.client(), "Murphy").await;
    let a1 = a.session().await;
    let a2 = a.session().await;
    let b1 = b.session().await;
    let c1 = someone_else.session().await;
    let me = a1.online_user_id().to_owned();

    // The reply arrives although it ends the caller's own session.
    let suid = a1.suid().expose_secret().to_owned();
    let uuid = new_uuid();
    let raw = t
        .client()
        .raw(
            "ResetOnlineAccount",
            Some(&suid),
            format!(
                r#"<ResetOnlineAccount {XMLNS} onlineUserId="{me}" patientId="{me}" unitId="{ODS}" uuid="{uuid}" apiVersion="1"/>"#
            ),
        )
        .await
        .unwrap();
    let el = ok_body(&raw, "ResetOnlineAccountReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(me.as_str()));
    assert_eq!(el.all("UnlinkedApplication").count(), 2);

    for s in [&a1, &a2, &b1] {
        assert!(!alive(s).await);
    }
    let r = t
        .client()
        .raw("RequestAccountInformation", Some(&suid), format!(
            r#"<RequestAccountInformation onlineUserId="{me}" patientId="{me}" uuid="{}" apiVersion="1"/>"#,
            new_uuid()
        ))
        .await
        .unwrap();
    error_body(&r, "3", &[&suid]);
    expect_pfs(a.authenticate().await, "9", &[]);
    expect_pfs(b.authenticate().await, "9", &[]);
    assert!(alive(&c1).await, "another account is untouched");
    expect_pfs(
        a.client
            .link_account(TestServer::register(&a.account))
            .await,
        "8",
        &[&a.account.linkage_key],
    );
    // The access log names the reset.
    let (_, patients) = t.admin("GET", "/api/patients", None).await.unwrap();
    assert!(patients.is_array());
}

/// On PostgreSQL, a reset through one instance ends the sessions another instance serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn reset_spans_instances() {
    let (_db, t) = start_on(Backend::Postgres, |_| {}).await;
    let sibling = t.start_sibling().await.unwrap();
    let other = t.new_provider("Second App", false).await.unwrap();
    let on_first = App::link(&t, t.client(), "Patel").await;
    let b = App::link(&t, t.client_for(&other), "Patel").await;
    // The same account and apps, served by the second instance.
    let a_on_sibling = App {
        client: sibling.client(),
        account: on_first.account.clone(),
        passphrase: on_first.passphrase.clone(),
    };
    let b_on_sibling = App {
        client: sibling.client_for(&other),
        account: b.account.clone(),
        passphrase: b.passphrase.clone(),
    };
    let a_there = a_on_sibling.session().await;
    let b_there = b_on_sibling.session().await;
    let here = on_first.session().await;
    reset(&here, None).await.unwrap();
    assert!(!alive(&a_there).await);
    assert!(!alive(&b_there).await);
    expect_pfs(a_on_sibling.authenticate().await, "9", &[]);
    expect_pfs(b_on_sibling.authenticate().await, "9", &[]);
    expect_pfs(
        b_on_sibling
            .client
            .link_account(TestServer::register(&b.account))
            .await,
        "8",
        &[],
    );
}

on_both_stores!(
    account_information,
    reset_one_application,
    reset_every_application
);
