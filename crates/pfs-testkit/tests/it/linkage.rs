//! LinkAccount: register (account id + linkage key), retrieve and create (NHS-login
//! variants), the errors of each, and the back-off against guessing linkage keys.

use chrono::{Duration, NaiveDate};
use pfs_client::{ExposeSecret, LinkRequest, SecretString};
use pfs_testkit::{DemoAccount, TestServer};
use pfs_wire::{Application, Header, LinkAccount, LinkAccountReply, LinkVariant};
use serde_json::json;

use crate::session::{
    DECLARATION, XMLNS, error_body, expect_pfs, identifying, new_uuid, ok_body, refs, texts,
};

/// A hand-written `LinkAccount`; `variant` holds the variant's attributes.
fn link_xml(
    uuid: &str,
    ods: &str,
    last_name: &str,
    date_of_birth: &str,
    provider_id: &str,
    variant: &str,
    declaration: bool,
) -> String {
    format!(
        r#"{}<LinkAccount {XMLNS} {variant} dateOfBirth="{date_of_birth}" uuid="{uuid}" lastName="{last_name}" apiVersion="1" organisationCode="{ods}">
  <Application version="2.3" deviceType="ExampleApp" name="ExampleApp" providerId="{provider_id}"/>
</LinkAccount>"#,
        if declaration { DECLARATION } else { "" }
    )
}

fn register_attrs(account_id: &str, key: &str) -> String {
    format!(r#"passphrase="{key}" accountId="{account_id}""#)
}

/// A register request for a demo account with another linkage key.
fn register_with_key(a: &DemoAccount, key: &str) -> LinkRequest {
    LinkRequest::register(
        &a.organisation_code,
        &a.last_name,
        a.date_of_birth,
        &a.account_id,
        SecretString::from(key.to_owned()),
    )
}

/// A linkage key of the right shape that is not the account's.
fn wrong_key(a: &DemoAccount) -> String {
    let other = if a.linkage_key.starts_with('A') {
        "B"
    } else {
        "A"
    };
    format!("{other}{}", &a.linkage_key[1..])
}

#[track_caller]
fn assert_passphrase_shape(p: &SecretString) {
    let p = p.expose_secret();
    assert!(p.len() >= 43, "a passphrase has at least 256 bits");
    assert!(!p.contains('&'), "HTML decoding must leave it unchanged");
    assert!(!p.contains(['<', '>', '"', '\'']));
}

/// Adds an adult patient with no online account to the demo practice; returns its patient id
/// and NHS number.
async fn new_adult(
    t: &TestServer,
    nine: u64,
    first: &str,
    last: &str,
    born: &str,
) -> (String, String) {
    let nhs = (nine..)
        .find_map(|n| pfs_core::nhs::complete(&format!("{n:09}")))
        .expect("an NHS number");
    let (status, v) = t
        .admin(
            "POST",
            "/api/patients",
            Some(json!({
                "ods": "Y99001",
                "nhsNumber": nhs,
                "title": "Mx",
                "firstName": first,
                "lastName": last,
                "dateOfBirth": born,
                "gender": "Unknown",
                "address": "8 New Street, Leeds, LS1 2AB",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    (v["id"].as_str().expect("patient id").to_owned(), nhs)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[tokio::test]
async fn register_returns_a_passphrase_that_authenticates() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let reply = client
        .link_account(TestServer::register(&ada))
        .await
        .unwrap();
    assert_eq!(reply.account_id.as_deref(), Some(ada.account_id.as_str()));
    assert!(reply.uuid.is_some());
    assert!(
        reply.passphrase_to_link.is_none(),
        "register returns no linkage key"
    );
    let passphrase = reply.passphrase.expect("passphrase");
    assert_passphrase_shape(&passphrase);
    assert_ne!(passphrase.expose_secret(), ada.linkage_key);

    let session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    assert_eq!(
        session.reply().user.nhs_number.as_deref(),
        Some(ada.nhs_number.as_str())
    );
    session.logoff().await.unwrap();

    // The same on the wire: the reply echoes the uuid and carries no errorCode text.
    let uuid = new_uuid();
    let r = client
        .raw(
            "LinkAccount",
            None,
            link_xml(
                &uuid,
                &ada.organisation_code,
                &ada.last_name,
                "1980-02-14T00:00:00",
                &t.demo.provider_id,
                &register_attrs(&ada.account_id, &ada.linkage_key),
                true,
            ),
        )
        .await
        .unwrap();
    let root = ok_body(&r, "LinkAccountReply");
    assert!(r.suid.is_none(), "LinkAccount opens no session");
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    assert_eq!(root.get("accountId"), Some(ada.account_id.as_str()));
    assert_passphrase_shape(&SecretString::from(
        root.get("passphrase").expect("passphrase").to_owned(),
    ));
}

#[tokio::test]
async fn relinking_replaces_the_old_passphrase() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let old = t.link(&client, &ada).await.unwrap();
    let new = t.link(&client, &ada).await.unwrap();
    assert_ne!(old.expose_secret(), new.expose_secret());
    let secrets = [
        old.expose_secret(),
        new.expose_secret(),
        &ada.linkage_key,
        &ada.nhs_number,
        &ada.last_name,
    ];
    expect_pfs(
        client
            .authenticate(&ada.organisation_code, &ada.account_id, &old)
            .await,
        "9",
        &secrets,
    );
    client
        .authenticate(&ada.organisation_code, &ada.account_id, &new)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
}

#[tokio::test]
async fn two_providers_each_get_their_own_passphrase() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let demo = t.client();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let mine = t.link(&demo, &ada).await.unwrap();
    let theirs = t.link(&other, &ada).await.unwrap();
    assert_ne!(mine.expose_secret(), theirs.expose_secret());
    // Both work, each only for its own provider; the second link did not replace the first.
    let s1 = demo
        .authenticate(&ada.organisation_code, &ada.account_id, &mine)
        .await
        .unwrap();
    let s2 = other
        .authenticate(&ada.organisation_code, &ada.account_id, &theirs)
        .await
        .unwrap();
    assert_eq!(s1.online_user_id(), s2.online_user_id());
    let secrets = [mine.expose_secret(), theirs.expose_secret()];
    expect_pfs(
        demo.authenticate(&ada.organisation_code, &ada.account_id, &theirs)
            .await,
        "9",
        &secrets,
    );
    expect_pfs(
        other
            .authenticate(&ada.organisation_code, &ada.account_id, &mine)
            .await,
        "9",
        &secrets,
    );
    s1.logoff().await.unwrap();
    s2.logoff().await.unwrap();
}

#[tokio::test]
async fn unknown_account_and_wrong_key_get_the_same_answer() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let secrets = identifying(&ada);
    let wrong = wrong_key(&ada);

    let mut unknown = register_with_key(&ada, &ada.linkage_key);
    if let LinkVariant::Register { account_id, .. } = &mut unknown.variant {
        *account_id = "111111111".into();
    }
    let a = expect_pfs(client.link_account(unknown).await, "8", &refs(&secrets));
    let b = expect_pfs(
        client.link_account(register_with_key(&ada, &wrong)).await,
        "8",
        &[&wrong, &ada.last_name],
    );
    assert_eq!(
        texts(&a),
        texts(&b),
        "an unknown account must look like a wrong key"
    );
    // A blank key is a missing attribute, not a guess.
    let r = expect_pfs(
        client.link_account(register_with_key(&ada, "   ")).await,
        "9004",
        &refs(&secrets),
    );
    assert!(texts(&r).2.contains("passphrase"), "{r}");
    // The right key still links.
    t.link(&client, &ada).await.unwrap();
}

#[tokio::test]
async fn register_checks_practice_name_and_date_of_birth() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let secrets = identifying(&ada);
    let with = |ods: &str, last: &str, dob: NaiveDate| {
        LinkRequest::register(
            ods,
            last,
            dob,
            &ada.account_id,
            SecretString::from(ada.linkage_key.clone()),
        )
    };

    expect_pfs(
        client
            .link_account(with("Y99001", "Sample", ada.date_of_birth))
            .await,
        "512",
        &refs(&secrets),
    );
    expect_pfs(
        client
            .link_account(with("Y99001", "Examples", ada.date_of_birth))
            .await,
        "512",
        &refs(&secrets),
    );
    expect_pfs(
        client
            .link_account(with("Y99001", "Example", date(1980, 2, 15)))
            .await,
        "513",
        &refs(&secrets),
    );
    expect_pfs(
        client
            .link_account(with("Y99001", "Example", date(1981, 2, 14)))
            .await,
        "513",
        &refs(&secrets),
    );
    expect_pfs(
        client
            .link_account(with("Y99002", "Example", ada.date_of_birth))
            .await,
        "555",
        &refs(&secrets),
    );

    // The last name compares without regard to case or extra space; the ODS code without case.
    for last in ["example", "EXAMPLE", "  Example ", " eXaMpLe"] {
        let reply = client
            .link_account(with("Y99001", last, ada.date_of_birth))
            .await
            .unwrap();
        assert!(reply.passphrase.is_some(), "{last:?}");
    }
    let reply = client
        .link_account(with("y99001", "Example", ada.date_of_birth))
        .await
        .unwrap();
    let passphrase = reply.passphrase.unwrap();
    client
        .authenticate("Y99001", &ada.account_id, &passphrase)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
}

#[tokio::test]
async fn register_with_another_providers_application_id_is_5() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let other = t.new_provider("Other app", true).await.unwrap();
    let client = t.client();
    let secrets = identifying(&ada);

    let req = LinkAccount {
        header: Header::new(None),
        organisation_code: ada.organisation_code.clone(),
        last_name: ada.last_name.clone(),
        date_of_birth: ada.date_of_birth,
        application: Application {
            name: "x".into(),
            version: "1".into(),
            provider_id: other.provider_id.clone(),
            device_type: "x".into(),
        },
        variant: LinkVariant::Register {
            account_id: ada.account_id.clone(),
            linkage_key: SecretString::from(ada.linkage_key.clone()),
        },
    };
    expect_pfs(
        client.call::<_, LinkAccountReply>(&req).await,
        "5",
        &refs(&secrets),
    );

    let uuid = new_uuid();
    let r = client
        .raw(
            "LinkAccount",
            None,
            link_xml(
                &uuid,
                &ada.organisation_code,
                &ada.last_name,
                "1980-02-14T00:00:00",
                "ffffffffffffffff",
                &register_attrs(&ada.account_id, &ada.linkage_key),
                false,
            ),
        )
        .await
        .unwrap();
    let el = error_body(&r, "5", &refs(&secrets));
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    // A rejected provider id did not use up the key.
    t.link(&client, &ada).await.unwrap();
}

#[tokio::test]
async fn expired_linkage_key_is_509() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    t.clock.advance(Duration::days(14) - Duration::minutes(1));
    // Just before expiry it still links.
    let early = t.link(&client, &ada).await.unwrap();
    t.clock.advance(Duration::minutes(2));
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "509",
        &refs(&identifying(&ada)),
    );
    // A passphrase obtained before expiry keeps working: only the key expires.
    client
        .authenticate(&ada.organisation_code, &ada.account_id, &early)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    // A wrong key after expiry is still just 8 (no hint that the account exists).
    let wrong = wrong_key(&ada);
    expect_pfs(
        client.link_account(register_with_key(&ada, &wrong)).await,
        "8",
        &[&wrong],
    );
}

#[tokio::test]
async fn ended_account_cannot_link() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/accounts/{}/end", ada.account_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let client = t.client();
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "509",
        &refs(&identifying(&ada)),
    );
    // The NHS-login variants see the end too.
    let retrieve = LinkRequest::retrieve(
        &ada.organisation_code,
        &ada.last_name,
        ada.date_of_birth,
        &ada.nhs_number,
    );
    expect_pfs(
        client.link_account(retrieve).await,
        "509",
        &refs(&identifying(&ada)),
    );
    let create = LinkRequest::create(
        &ada.organisation_code,
        &ada.last_name,
        ada.date_of_birth,
        &ada.nhs_number,
    );
    expect_pfs(
        client.link_account(create).await,
        "509",
        &refs(&identifying(&ada)),
    );
}

#[tokio::test]
async fn patient_under_the_practice_minimum_age_is_553() {
    let t = TestServer::start().await.unwrap();
    let (status, v) = t
        .admin(
            "PUT",
            "/api/practices/Y99001/settings",
            Some(json!({"minimumAge": 60})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["settings"]["minimumAge"], 60);
    let client = t.client();
    let ada = t.account("Example").clone(); // born 1980
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "553",
        &refs(&identifying(&ada)),
    );
    let retrieve = LinkRequest::retrieve(
        &ada.organisation_code,
        &ada.last_name,
        ada.date_of_birth,
        &ada.nhs_number,
    );
    expect_pfs(
        client.link_account(retrieve).await,
        "553",
        &refs(&identifying(&ada)),
    );
    // Someone born in 1958 is old enough.
    let evan = t.account("Hughes").clone();
    let p = t.link(&client, &evan).await.unwrap();
    client
        .authenticate(&evan.organisation_code, &evan.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    // Back to the default (16): Ada links.
    t.admin(
        "PUT",
        "/api/practices/Y99001/settings",
        Some(json!({"minimumAge": 16})),
    )
    .await
    .unwrap();
    t.link(&client, &ada).await.unwrap();
}

#[tokio::test]
async fn date_of_birth_is_accepted_in_every_form() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let attrs = register_attrs(&ada.account_id, &ada.linkage_key);
    let mut passphrases = Vec::new();
    for (dob, declaration) in [
        ("1980-02-14", true),
        ("1980-02-14T00:00:00", false),
        ("1980-02-14T00:00:00.0Z", true),
        ("1980-02-14T00:00:00+00:00", false),
    ] {
        let uuid = new_uuid();
        let xml = link_xml(
            &uuid,
            "Y99001",
            "Example",
            dob,
            &t.demo.provider_id,
            &attrs,
            declaration,
        );
        let r = client.raw("LinkAccount", None, xml).await.unwrap();
        let root = ok_body(&r, "LinkAccountReply");
        assert_eq!(root.get("uuid"), Some(uuid.as_str()), "{dob}");
        assert_eq!(
            root.get("accountId"),
            Some(ada.account_id.as_str()),
            "{dob}"
        );
        passphrases.push(root.get("passphrase").expect("passphrase").to_owned());
    }
    // The last passphrase is the one that works.
    let last = SecretString::from(passphrases.pop().unwrap());
    client
        .authenticate("Y99001", &ada.account_id, &last)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();

    // A date in another form is a field error that does not quote the value.
    for bad in ["14/02/1980", "1980-02-30", ""] {
        let xml = link_xml(
            &new_uuid(),
            "Y99001",
            "Example",
            bad,
            &t.demo.provider_id,
            &attrs,
            true,
        );
        let r = client.raw("LinkAccount", None, xml).await.unwrap();
        let el = error_body(&r, "9004", &refs(&identifying(&ada)));
        let technical = el.get("technicalMessage").unwrap_or("");
        assert!(technical.contains("dateOfBirth"), "{technical}");
        assert!(bad.is_empty() || !technical.contains(bad), "{technical}");
    }
}

#[tokio::test]
async fn sixth_attempt_after_five_failures_is_rate_limited() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let wrong = wrong_key(&ada);
    let mut secrets = identifying(&ada);
    secrets.push(wrong.clone());

    for _ in 0..5 {
        expect_pfs(
            client.link_account(register_with_key(&ada, &wrong)).await,
            "8",
            &refs(&secrets),
        );
    }
    // Sixth attempt, even with the right key: rate limited.
    let e = expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "9008",
        &refs(&secrets),
    );
    assert!(texts(&e).2.contains("retry after"), "{e}");
    // Another provider is not locked out of the same account.
    let p = t.link(&other, &ada).await.unwrap();
    other
        .authenticate("Y99001", &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    // After the back-off the right key works and resets the count.
    t.clock.advance(Duration::seconds(31));
    t.link(&client, &ada).await.unwrap();
    for _ in 0..5 {
        expect_pfs(
            client.link_account(register_with_key(&ada, &wrong)).await,
            "8",
            &refs(&secrets),
        );
    }
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "9008",
        &refs(&secrets),
    );
}

#[tokio::test]
async fn backoff_locks_one_provider_out_of_one_account_for_a_while() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let carl = t.account("Jones").clone();
    let client = t.client();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let wrong = wrong_key(&ada);
    let mut secrets = identifying(&ada);
    secrets.push(wrong.clone());

    // Five wrong keys: each an ordinary 8.
    for _ in 0..5 {
        expect_pfs(
            client.link_account(register_with_key(&ada, &wrong)).await,
            "8",
            &refs(&secrets),
        );
    }
    // The fifth failure started the back-off: the next guess is not even checked.
    let locked = expect_pfs(
        client.link_account(register_with_key(&ada, &wrong)).await,
        "9008",
        &refs(&secrets),
    );
    let technical = texts(&locked).2;
    assert!(technical.contains("retry after"), "{technical}");
    // The right key is refused as well while the back-off lasts.
    let e = expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "9008",
        &refs(&secrets),
    );
    assert_eq!(texts(&e).0, "9008");
    // Only this (account, provider) pair is held back: another account links, and so does
    // another provider for the same account.
    t.link(&client, &carl).await.unwrap();
    let p = t.link(&other, &ada).await.unwrap();
    other
        .authenticate("Y99001", &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();

    // After 31 seconds the right key works again and the count starts afresh: one more wrong
    // key is an ordinary 8, and the right key after it still links.
    t.clock.advance(Duration::seconds(31));
    let p = t.link(&client, &ada).await.unwrap();
    client
        .authenticate("Y99001", &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    expect_pfs(
        client.link_account(register_with_key(&ada, &wrong)).await,
        "8",
        &refs(&secrets),
    );
    t.link(&client, &ada).await.unwrap();
}

#[tokio::test]
async fn retrieve_issues_a_new_linkage_key() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let retrieve = LinkRequest::retrieve(
        &ada.organisation_code,
        &ada.last_name,
        ada.date_of_birth,
        &ada.nhs_number,
    );
    let reply = client.link_account(retrieve).await.unwrap();
    assert_eq!(reply.account_id.as_deref(), Some(ada.account_id.as_str()));
    assert!(reply.passphrase.is_none(), "retrieve gives no passphrase");
    let key = reply.passphrase_to_link.expect("passphraseToLink");
    let key = key.expose_secret().to_owned();
    assert!(!key.is_empty() && !key.contains('&'));
    assert_ne!(key, ada.linkage_key);

    // The old key has been replaced; the new one links.
    let mut secrets = identifying(&ada);
    secrets.push(key.clone());
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "8",
        &refs(&secrets),
    );
    let reply = client
        .link_account(register_with_key(&ada, &key))
        .await
        .unwrap();
    let passphrase = reply.passphrase.expect("passphrase");
    client
        .authenticate("Y99001", &ada.account_id, &passphrase)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();

    // On the wire (retrieveOnly="y" with .NET namespaces): accountId and passphraseToLink.
    let uuid = new_uuid();
    let xml = link_xml(
        &uuid,
        "Y99001",
        "Example",
        "1980-02-14T00:00:00",
        &t.demo.provider_id,
        &format!(r#"nhsNumber="{}" retrieveOnly="y""#, ada.nhs_number),
        true,
    );
    let r = client.raw("LinkAccount", None, xml).await.unwrap();
    let root = ok_body(&r, "LinkAccountReply");
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    assert_eq!(root.get("accountId"), Some(ada.account_id.as_str()));
    assert!(
        root.get("passphraseToLink")
            .is_some_and(|k| !k.is_empty() && k != key)
    );
}

#[tokio::test]
async fn retrieve_for_a_patient_without_an_account_and_its_errors() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let (_, nhs) = new_adult(&t, 999_100_100, "Olive", "Newcomer", "1990-05-29").await;
    let dob = date(1990, 5, 29);
    let secrets = [nhs.as_str(), "Newcomer"];

    // Found, but no online account: success with blank fields.
    let reply = client
        .link_account(LinkRequest::retrieve("Y99001", "Newcomer", dob, &nhs))
        .await
        .unwrap();
    assert!(reply.account_id.is_none());
    assert!(reply.passphrase_to_link.is_none());
    assert!(reply.uuid.is_some());
    let uuid = new_uuid();
    let xml = link_xml(
        &uuid,
        "Y99001",
        "Newcomer",
        "1990-05-29",
        &t.demo.provider_id,
        &format!(r#"retrieveOnly="y" nhsNumber="{nhs}""#),
        false,
    );
    let r = client.raw("LinkAccount", None, xml).await.unwrap();
    let root = ok_body(&r, "LinkAccountReply");
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    assert!(root.get("accountId").unwrap_or("").is_empty(), "{}", r.body);

    // Unknown NHS number: 554.
    let unknown = (999_200_200u64..)
        .find_map(|n| pfs_core::nhs::complete(&n.to_string()))
        .unwrap();
    expect_pfs(
        client
            .link_account(LinkRequest::retrieve("Y99001", "Newcomer", dob, &unknown))
            .await,
        "554",
        &[&unknown],
    );
    // Details that do not match: 512 / 513 / 555.
    expect_pfs(
        client
            .link_account(LinkRequest::retrieve("Y99001", "Oldtimer", dob, &nhs))
            .await,
        "512",
        &secrets,
    );
    expect_pfs(
        client
            .link_account(LinkRequest::retrieve(
                "Y99001",
                "Newcomer",
                date(1990, 5, 28),
                &nhs,
            ))
            .await,
        "513",
        &secrets,
    );
    expect_pfs(
        client
            .link_account(LinkRequest::retrieve("Y99009", "Newcomer", dob, &nhs))
            .await,
        "555",
        &secrets,
    );

    // A provider not trusted to vouch for identity may not retrieve (nor create): 5.
    let untrusted = t.client_for(&t.new_provider("Plain app", false).await.unwrap());
    let ada = t.account("Example").clone();
    let retrieve =
        LinkRequest::retrieve("Y99001", &ada.last_name, ada.date_of_birth, &ada.nhs_number);
    expect_pfs(
        untrusted.link_account(retrieve).await,
        "5",
        &refs(&identifying(&ada)),
    );
    expect_pfs(
        untrusted
            .link_account(LinkRequest::create("Y99001", "Newcomer", dob, &nhs))
            .await,
        "5",
        &secrets,
    );
    // ...but it may register with a linkage key, and the key was not replaced by its attempt.
    let p = t.link(&untrusted, &ada).await.unwrap();
    untrusted
        .authenticate("Y99001", &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
}

#[tokio::test]
async fn create_opens_an_account_that_authenticates() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let (patient_id, nhs) = new_adult(&t, 999_100_300, "Otto", "Fresh", "1985-05-29").await;
    let dob = date(1985, 5, 29);

    let create = LinkRequest::create("Y99001", "Fresh", dob, &nhs)
        .email_address("otto@example.org")
        .mobile_no("07700900123");
    let reply = client.link_account(create).await.unwrap();
    let account_id = reply.account_id.expect("accountId");
    let passphrase = reply.passphrase.expect("passphrase");
    let key = reply.passphrase_to_link.expect("passphraseToLink");
    assert_passphrase_shape(&passphrase);
    assert!(!key.expose_secret().contains('&'));

    let session = client
        .authenticate("Y99001", &account_id, &passphrase)
        .await
        .unwrap();
    assert_eq!(session.online_user_id(), patient_id);
    assert_eq!(
        session.reply().user.nhs_number.as_deref(),
        Some(nhs.as_str())
    );
    assert_eq!(session.reply().user.date_of_birth, dob);
    session.logoff().await.unwrap();

    // The linkage key lets another app link the new account.
    let other = t.client_for(&t.new_provider("Other app", false).await.unwrap());
    let reply = other
        .link_account(LinkRequest::register(
            "Y99001",
            "Fresh",
            dob,
            &account_id,
            key,
        ))
        .await
        .unwrap();
    let p = reply.passphrase.expect("passphrase");
    other
        .authenticate("Y99001", &account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();

    // Retrieve now finds the account.
    let reply = client
        .link_account(LinkRequest::retrieve("Y99001", "Fresh", dob, &nhs))
        .await
        .unwrap();
    assert_eq!(reply.account_id.as_deref(), Some(account_id.as_str()));
}

#[tokio::test]
async fn legacy_create_with_only_an_nhs_number_works() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let (patient_id, nhs) = new_adult(&t, 999_100_500, "Ola", "Legacy", "1970-01-31").await;
    let uuid = new_uuid();
    let xml = link_xml(
        &uuid,
        "Y99001",
        "Legacy",
        "1970-01-31T00:00:00",
        &t.demo.provider_id,
        &format!(r#"nhsNumber="{nhs}""#),
        true,
    );
    let r = client.raw("LinkAccount", None, xml).await.unwrap();
    let root = ok_body(&r, "LinkAccountReply");
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    let account_id = root.get("accountId").expect("accountId").to_owned();
    let passphrase = SecretString::from(root.get("passphrase").expect("passphrase").to_owned());
    assert_passphrase_shape(&passphrase);
    assert!(root.get("passphraseToLink").is_some_and(|k| !k.is_empty()));
    let session = client
        .authenticate("Y99001", &account_id, &passphrase)
        .await
        .unwrap();
    assert_eq!(session.online_user_id(), patient_id);
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn link_account_without_a_variant_is_9004() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let ada = t.account("Example").clone();
    let p = t.demo.provider_id.clone();
    for variant in [
        String::new(),
        format!(r#"accountId="{}""#, ada.account_id),
        format!(r#"passphrase="{}""#, ada.linkage_key),
        r#"retrieveOnly="y""#.to_owned(),
        format!(r#"retrieveOnly="maybe" nhsNumber="{}""#, ada.nhs_number),
    ] {
        let uuid = new_uuid();
        let xml = link_xml(
            &uuid,
            "Y99001",
            "Example",
            "1980-02-14T00:00:00",
            &p,
            &variant,
            true,
        );
        let r = client.raw("LinkAccount", None, xml).await.unwrap();
        let el = error_body(&r, "9004", &refs(&identifying(&ada)));
        assert_eq!(el.get("uuid"), Some(uuid.as_str()), "{variant}");
    }
    // Missing organisationCode / Application are field errors too.
    let xml = format!(
        r#"<LinkAccount apiVersion="1" lastName="Example" dateOfBirth="1980-02-14" accountId="{}" passphrase="{}"><Application providerId="{p}"/></LinkAccount>"#,
        ada.account_id, ada.linkage_key
    );
    error_body(
        &client.raw("LinkAccount", None, xml).await.unwrap(),
        "9004",
        &refs(&identifying(&ada)),
    );
    let xml = format!(
        r#"<LinkAccount apiVersion="1" organisationCode="Y99001" lastName="Example" dateOfBirth="1980-02-14" accountId="{}" passphrase="{}"/>"#,
        ada.account_id, ada.linkage_key
    );
    error_body(
        &client.raw("LinkAccount", None, xml).await.unwrap(),
        "9004",
        &refs(&identifying(&ada)),
    );
    // None of those used up the key.
    t.link(&client, &ada).await.unwrap();
}

// --- throttling and bounded hashing, on both stores ----------------------------------------------

use crate::stores::{Backend, start_on};

on_both_stores!(
    concurrent_wrong_keys_reach_argon2_at_most_the_threshold,
    a_full_hashing_queue_is_busy_for_the_flooding_provider_only,
    over_long_account_id_is_9004_before_any_work,
    housekeeping_forgets_old_failures_but_keeps_a_lock,
);

/// The error code of a `LinkAccount` answer that must be an `Error`.
fn code_of<T: std::fmt::Debug>(r: &Result<T, pfs_client::Error>) -> String {
    match r {
        Err(e @ pfs_client::Error::Pfs { .. }) => texts(e).0,
        other => panic!("expected a PFS error, got {other:?}"),
    }
}

/// What a `LinkAccount` answered "busy" looks like.
#[track_caller]
fn assert_busy(e: &pfs_client::Error) {
    let (code, user, technical) = texts(e);
    assert_eq!(code, "9008", "{e}");
    assert_eq!(user, "The service is busy. Please try again in a moment.");
    assert!(technical.ends_with("retry after 1 seconds"), "{technical}");
}

/// Waits (polling, with a generous bound) until `n` hashes are admitted to the queue.
async fn until_admitted(t: &TestServer, n: usize) {
    let kdf = t.server.pfs.kdf();
    for _ in 0..3_000 {
        if kdf.admitted() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{} hashes admitted, expected {n}", kdf.admitted());
}

/// 64 wrong keys at once for one account through one provider: only the attempts up to the
/// one that starts the back-off (five) are checked, so only they reach argon2; every other is
/// `9008` (locked, or busy when the provider's share of the queue was taken). The patient links
/// at once through another app.
async fn concurrent_wrong_keys_reach_argon2_at_most_the_threshold(backend: Backend) {
    let (_schema, t) = start_on(backend, |_| {}).await;
    let ada = t.account("Example").clone();
    let client = t.client();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let wrong = wrong_key(&ada);
    let mut secrets = identifying(&ada);
    secrets.push(wrong.clone());
    let kdf = t.server.pfs.kdf();
    let threshold = t.server.pfs.config().link_failures_before_backoff;
    assert!(t.server.pfs.config().kdf_queue_per_provider >= threshold as usize);

    let before = kdf.computed();
    let attempts = (0..64).map(|_| client.link_account(register_with_key(&ada, &wrong)));
    let results = futures_util::future::join_all(attempts).await;
    let mut checked = 0u32;
    for r in results {
        let code = code_of(&r);
        match code.as_str() {
            "8" => checked += 1,
            "9008" => {}
            other => panic!("expected 8 or 9008, got {other}"),
        }
        expect_pfs(r, &code, &refs(&secrets));
    }
    // The first `kdf_queue_per_provider` (8) attempts to arrive get a place in the queue, so at
    // least five reach the store, which admits exactly five.
    assert_eq!(checked, threshold, "attempts checked");
    assert_eq!(
        kdf.computed() - before,
        u64::from(checked),
        "hashes computed"
    );
    assert_eq!(kdf.admitted(), 0);

    // No victim lockout: the patient links through another provider at once.
    let p = t.link(&other, &ada).await.unwrap();
    other
        .authenticate(&ada.organisation_code, &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    // The flooding provider's pair is locked, for the right key too, and costs no hash.
    let before = kdf.computed();
    let e = expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "9008",
        &refs(&secrets),
    );
    assert!(texts(&e).2.contains("retry after 30 seconds"), "{e}");
    assert_eq!(kdf.computed(), before);
    t.server.shutdown().await;
}

/// With the hashing threads held, one provider fills its share of the queue: its further
/// attempts are answered busy at once, while another provider still gets a place, and links
/// once the threads resume.
async fn a_full_hashing_queue_is_busy_for_the_flooding_provider_only(backend: Backend) {
    let (_schema, t) = start_on(backend, |o| {
        o.core.kdf_queue = 6;
        o.core.kdf_queue_per_provider = 3;
    })
    .await;
    let ada = t.account("Example").clone();
    let flooder = t.client();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let kdf = t.server.pfs.kdf();
    let before = kdf.computed();
    let hold = kdf.hold();

    // Eight attempts on eight (unknown) account ids, so that no back-off applies: three take
    // the provider's places, five are answered busy while nothing is hashed.
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..8 {
        let (flooder, done) = (flooder.clone(), done.clone());
        let mut request = register_with_key(&ada, &wrong_key(&ada));
        if let LinkVariant::Register { account_id, .. } = &mut request.variant {
            *account_id = format!("{}", 300_000_000 + n);
        }
        tokio::spawn(async move {
            let _ = done.send(flooder.link_account(request).await);
        });
    }
    for _ in 0..5 {
        let answer = answers.recv().await.expect("an answer");
        assert_busy(&answer.expect_err("busy"));
    }
    assert_eq!(kdf.admitted(), 3, "the flooding provider holds its share");

    // Another provider still gets a place: the real patient's link waits for the threads.
    let linking = {
        let other = other.clone();
        let request = TestServer::register(&ada);
        tokio::spawn(async move { other.link_account(request).await })
    };
    until_admitted(&t, 4).await;
    // The flooding provider is still refused at once.
    assert_busy(
        &flooder
            .link_account(register_with_key(&ada, &wrong_key(&ada)))
            .await
            .expect_err("busy"),
    );
    assert_eq!(kdf.computed(), before, "nothing hashed while held");

    drop(hold);
    let reply = linking.await.unwrap().expect("the other provider links");
    let p = reply.passphrase.expect("passphrase");
    other
        .authenticate(&ada.organisation_code, &ada.account_id, &p)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
    for _ in 0..3 {
        let answer = answers.recv().await.expect("an answer");
        assert_eq!(code_of(&answer), "8", "the queued attempts are checked");
    }
    assert_eq!(kdf.computed() - before, 4);
    assert_eq!(kdf.admitted(), 0);
    t.server.shutdown().await;
}

/// An `accountId` longer than 64 characters is `9004` without any hash or store work (so it
/// never counts towards a back-off); 64 characters, counted as characters, is an ordinary
/// attempt.
async fn over_long_account_id_is_9004_before_any_work(backend: Backend) {
    let (_schema, t) = start_on(backend, |_| {}).await;
    let ada = t.account("Example").clone();
    let client = t.client();
    let kdf = t.server.pfs.kdf();
    let with_id = |id: String| {
        let mut request = register_with_key(&ada, &ada.linkage_key);
        if let LinkVariant::Register { account_id, .. } = &mut request.variant {
            *account_id = id;
        }
        request
    };
    let secrets = identifying(&ada);

    let before = kdf.computed();
    for long in ["1".repeat(65), "é".repeat(65), "1".repeat(1_000)] {
        // More than the back-off threshold: none of them is counted.
        for _ in 0..6 {
            let e = expect_pfs(
                client.link_account(with_id(long.clone())).await,
                "9004",
                &refs(&secrets),
            );
            let (_, user, technical) = texts(&e);
            assert_eq!(technical, "accountId is longer than 64 characters");
            assert_eq!(
                user,
                "There was a problem linking your account. Please check the details your GP practice gave you and try again."
            );
        }
    }
    // Longer than any attribute value may be (1 024 bytes): refused while the body is read.
    let e = expect_pfs(
        client.link_account(with_id("1".repeat(10_000))).await,
        "9001",
        &refs(&secrets),
    );
    assert!(texts(&e).2.contains("longer than this message type allows"));
    assert_eq!(kdf.computed(), before, "no hash");

    // At the limit it is an ordinary unknown account: checked against the decoy.
    for at_limit in ["1".repeat(64), "é".repeat(64)] {
        expect_pfs(
            client.link_account(with_id(at_limit)).await,
            "8",
            &refs(&secrets),
        );
    }
    assert_eq!(kdf.computed(), before + 2);
    t.link(&client, &ada).await.unwrap();
    t.server.shutdown().await;
}

/// Housekeeping forgets the failures of a pair that has not failed for the retention period and
/// is not locked, and keeps a pair that is still locked.
async fn housekeeping_forgets_old_failures_but_keeps_a_lock(backend: Backend) {
    let (_schema, t) = start_on(backend, |o| {
        o.core.link_throttle_retention = Duration::hours(1);
        o.core.link_backoff_base = Duration::hours(2);
        o.core.link_backoff_max = Duration::hours(2);
    })
    .await;
    let ada = t.account("Example").clone();
    let carl = t.account("Jones").clone();
    let client = t.client();
    let (ada_wrong, carl_wrong) = (wrong_key(&ada), wrong_key(&carl));
    let fail = |a: &DemoAccount, wrong: &str, code: &'static str| {
        let request = register_with_key(a, wrong);
        let client = client.clone();
        async move { assert_eq!(code_of(&client.link_account(request).await), code) }
    };
    // Four failures for Ada (no lock yet); five for Carl (locked for two hours).
    for _ in 0..4 {
        fail(&ada, &ada_wrong, "8").await;
    }
    for _ in 0..5 {
        fail(&carl, &carl_wrong, "8").await;
    }
    fail(&carl, &carl_wrong, "9008").await;

    t.clock.advance(Duration::minutes(61));
    let swept = t.server.pfs.housekeeping(t.clock_now()).await.unwrap();
    assert_eq!(swept.link_throttles, 1, "Ada's pair only");
    assert_eq!(
        t.server
            .pfs
            .housekeeping(t.clock_now())
            .await
            .unwrap()
            .link_throttles,
        0
    );

    // Ada's count starts afresh: four more failures and the fifth are ordinary, the sixth is
    // held back. (Without the purge the first of them would have started the back-off.)
    for _ in 0..5 {
        fail(&ada, &ada_wrong, "8").await;
    }
    fail(&ada, &ada_wrong, "9008").await;
    // Carl's pair is still locked, for the right key too.
    assert_eq!(
        code_of(&client.link_account(TestServer::register(&carl)).await),
        "9008"
    );
    t.server.shutdown().await;
}
