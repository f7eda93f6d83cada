//! Nominated pharmacy: RequestCommunityPharmacy and UpdateCommunityPharmacy over real mutual
//! TLS on both stores; the directory's CSV import, additions and closures through the admin
//! API.

use pfs_client::{ExposeSecret, PharmacySearch};
use pfs_wire::YesNo;
use serde_json::json;

use crate::appointments::User;
use crate::session::{XMLNS, error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";
const HEADER: &str =
    "ods_code,name,house_name_flat,street,village,town,county,postcode,telephone,status";

fn codes(list: &[pfs_wire::PharmacyEntry]) -> Vec<&str> {
    list.iter().map(|p| p.ods_code.as_str()).collect()
}

async fn search_nominate_change_remove(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;

    // The demo directory: nearest first by postcode; LS6 3AA's own pharmacy first, then its
    // district, then the nearest districts.
    let r = s
        .request_community_pharmacy(PharmacySearch::Postcode("ls6 3aa"))
        .await
        .unwrap();
    assert_eq!(r.nominated, None);
    let found = codes(&r.pharmacies);
    assert_eq!(found[0], "FY906", "{found:?}");
    assert_eq!(found[1], "FY907", "{found:?}");
    assert!(found.len() >= 20, "{found:?}");
    assert!(
        !found.contains(&"FY924"),
        "a closed pharmacy is never found"
    );
    let first = &r.pharmacies[0];
    assert_eq!(first.name, "Headingley Chemist");
    assert_eq!(first.open, YesNo(true));
    assert_eq!(first.address.postcode.as_deref(), Some("LS6 3AA"));
    assert_eq!(first.address.address, "77 Otley Road, Leeds, LS6 3AA");
    assert_eq!(first.telephone_numbers[0].number, "01134960106");
    assert_eq!(first.telephone_numbers[0].number_type.as_str(), "Work");
    // An outward code; districts 7 and 5 before 8 and 4.
    let r = s
        .request_community_pharmacy(PharmacySearch::Postcode("LS7"))
        .await
        .unwrap();
    let found = codes(&r.pharmacies);
    assert_eq!(found[0], "FY908");
    let pos = |c: &str| found.iter().position(|f| *f == c).unwrap();
    assert!(pos("FY906") < pos("FY909"), "{found:?}");
    // By name, any case, partial.
    let r = s
        .request_community_pharmacy(PharmacySearch::Name("town STREET"))
        .await
        .unwrap();
    assert!(r.pharmacies.is_empty());
    let r = s
        .request_community_pharmacy(PharmacySearch::Name("cHeMiSt"))
        .await
        .unwrap();
    let names: Vec<&str> = r.pharmacies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Armley Chemist",
            "Belle Isle Chemist",
            "Cross Gates Chemist",
            "Headingley Chemist",
            "Horsforth Chemist",
            "Low Road Chemist",
            "Roundhay Chemist",
        ]
    );
    // Bad searches.
    expect_pfs(
        s.request_community_pharmacy(PharmacySearch::Postcode("LS6 3A"))
            .await,
        "9021",
        &[],
    );
    expect_pfs(
        s.request_community_pharmacy(PharmacySearch::Name("x"))
            .await,
        "9004",
        &[],
    );

    // Nominate, change, remove.
    let r = s.update_community_pharmacy(Some("fy906")).await.unwrap();
    assert_eq!(r.nominated.unwrap().ods_code, "FY906");
    let r = s
        .request_community_pharmacy(PharmacySearch::None)
        .await
        .unwrap();
    assert_eq!(r.nominated.unwrap().ods_code, "FY906");
    assert!(r.pharmacies.is_empty());
    let r = s.update_community_pharmacy(Some("FY907")).await.unwrap();
    assert_eq!(r.nominated.unwrap().ods_code, "FY907");
    let r = s.update_community_pharmacy(None).await.unwrap();
    assert_eq!(r.nominated, None);
    let r = s
        .request_community_pharmacy(PharmacySearch::None)
        .await
        .unwrap();
    assert_eq!(r.nominated, None);

    // Unknown and closed pharmacies are refused, and the nomination is unchanged.
    s.update_community_pharmacy(Some("FY908")).await.unwrap();
    expect_pfs(
        s.update_community_pharmacy(Some("FX000")).await,
        "9028",
        &[],
    );
    expect_pfs(
        s.update_community_pharmacy(Some("FY924")).await,
        "9029",
        &[],
    );
    // A pharmacy that closes after being nominated stays nominated, shown closed.
    let (status, v) = t
        .admin("POST", "/api/pharmacies/FY908/close", None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let r = s
        .request_community_pharmacy(PharmacySearch::None)
        .await
        .unwrap();
    let n = r.nominated.unwrap();
    assert_eq!((n.ods_code.as_str(), n.open), ("FY908", YesNo(false)));
    expect_pfs(
        s.update_community_pharmacy(Some("FY908")).await,
        "9029",
        &[],
    );
}

async fn raw_xml_echoes(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Example").await;
    let s = user.session().await;
    let pid = s.online_user_id().to_owned();
    let suid = s.suid().expose_secret().to_owned();
    let client = t.client();
    let common = |root: &str, uuid: &str| {
        format!(
            r#"<{root} {XMLNS} onlineUserId="{pid}" patientId="{pid}" unitId="{ODS}" uuid="{uuid}" apiVersion="1""#
        )
    };
    // The demo seed nominated FY902 for Ada.
    let uuid = new_uuid();
    let r = client
        .raw(
            "RequestCommunityPharmacy",
            Some(&suid),
            format!(
                r#"{} postcode="LS1 1AB"/>"#,
                common("RequestCommunityPharmacy", &uuid)
            ),
        )
        .await
        .unwrap();
    let el = ok_body(&r, "RequestCommunityPharmacyReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(pid.as_str()));
    assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
    let expected = r#"<NominatedPharmacy odsCode="FY902" name="Low Road Chemist" open="y"><Address address="40 Low Road, Leeds, LS1 1AB" houseNameFlat="40" street="Low Road" town="Leeds" postcode="LS1 1AB"/><TelephoneNumbers><TelephoneNumber number="01134960102" type="Work"/></TelephoneNumbers></NominatedPharmacy>"#;
    assert!(r.body.contains(expected), "{}", r.body);
    assert_eq!(
        el.all("Pharmacy").next().unwrap().get("odsCode"),
        Some("FY902")
    );

    let uuid = new_uuid();
    let r = client
        .raw(
            "UpdateCommunityPharmacy",
            Some(&suid),
            format!(
                r#"{} remove="y"/>"#,
                common("UpdateCommunityPharmacy", &uuid)
            ),
        )
        .await
        .unwrap();
    let el = ok_body(&r, "UpdateCommunityPharmacyReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(pid.as_str()));
    assert!(el.first("NominatedPharmacy").is_none());
    for (attrs, code) in [
        (r#" odsCode="FY901" remove="y""#, "9004"),
        ("", "9004"),
        (r#" odsCode="NOPE1""#, "9028"),
    ] {
        let uuid = new_uuid();
        let r = client
            .raw(
                "UpdateCommunityPharmacy",
                Some(&suid),
                format!("{}{attrs}/>", common("UpdateCommunityPharmacy", &uuid)),
            )
            .await
            .unwrap();
        let el = error_body(&r, code, &["NOPE1"]);
        assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    }
    // The access log has the removal.
    let (_, log) = t
        .admin("GET", &format!("/api/patients/{pid}/demographics"), None)
        .await
        .unwrap();
    assert!(log.is_object());
}

async fn csv_import_all_or_nothing(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let good = format!(
        "{HEADER}\nFQ001,\"Quay, Pharmacy\",1,Quay Street,,Hull,,HU1 1AA,01482 496000,\nFQ002,Dock Chemist,2,Dock Street,,Hull,,hu1 2bb,,open\nFQ003,Old Chemist,3,Old Street,,Hull,,HU2 8AA,,closed\n"
    );
    // One malformed line: nothing is loaded, and the line is named.
    let bad = format!(
        "{good}FQ004,Broken Pharmacy,4,Broken Street,,Hull,,NOT A POSTCODE,,\nFQ005,Short\n"
    );
    let (status, v) = t
        .admin_post_text("/api/pharmacies/import", &bad)
        .await
        .unwrap();
    assert_eq!(status, 422, "{v}");
    let lines: Vec<u64> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![5, 6]);
    assert!(!v.to_string().contains("NOT A POSTCODE"), "{v}");
    let (status, _) = t.admin("GET", "/api/pharmacies/FQ001", None).await.unwrap();
    assert_eq!(status, 404, "nothing of a refused import is stored");

    let (status, v) = t
        .admin_post_text("/api/pharmacies/import", &good)
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["imported"], 3);
    let (status, v) = t.admin("GET", "/api/pharmacies/fq001", None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["name"], "Quay, Pharmacy");
    assert_eq!(v["telephone"], "01482496000");
    let (_, v) = t
        .admin("GET", "/api/pharmacies?postcode=HU1", None)
        .await
        .unwrap();
    let found: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ods"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec!["FQ001", "FQ002"]);
    // Importing again replaces by ODS code.
    let again = format!("{HEADER}\nFQ001,Quay Pharmacy,1,Quay Street,,Hull,,HU1 1AA,,\n");
    let (status, _) = t
        .admin_post_text("/api/pharmacies/import", &again)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (_, v) = t.admin("GET", "/api/pharmacies/FQ001", None).await.unwrap();
    assert_eq!(v["name"], "Quay Pharmacy");
    // A bad header is line 1.
    let (status, v) = t
        .admin_post_text("/api/pharmacies/import", "ods,name\nFQ009,X\n")
        .await
        .unwrap();
    assert_eq!(status, 422);
    assert_eq!(v["lines"][0]["line"], 1);

    // Single additions and closures.
    let (status, v) = t
        .admin(
            "POST",
            "/api/pharmacies",
            Some(
                json!({"ods": "FQ010", "name": "New Pharmacy", "street": "New Road",
                        "postcode": "HU1 3DD"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let (status, _) = t
        .admin(
            "POST",
            "/api/pharmacies",
            Some(
                json!({"ods": "FQ010", "name": "Again", "street": "New Road",
                        "postcode": "HU1 3DD"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 409);
    let (status, _) = t
        .admin(
            "POST",
            "/api/pharmacies",
            Some(json!({"ods": "FQ011", "name": "Bad", "street": "New Road",
                        "postcode": "HU1"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let (status, _) = t
        .admin("POST", "/api/pharmacies/FQ010/close", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = t
        .admin("POST", "/api/pharmacies/FQ010/close", None)
        .await
        .unwrap();
    assert_eq!(status, 409);
    let (status, _) = t
        .admin("POST", "/api/pharmacies/FQ999/close", None)
        .await
        .unwrap();
    assert_eq!(status, 404);
}

on_both_stores!(
    search_nominate_change_remove,
    raw_xml_echoes,
    csv_import_all_or_nothing
);
