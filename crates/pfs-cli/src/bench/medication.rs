//! The medication scenarios of `pfs bench`: `list-repeat-medication` (one patient with 12
//! current repeat courses, the list read again and again) and `request-medication` (the list
//! fetched and one course ordered, spread over many patients and courses, one new course per
//! order), and the check that no course ended up with two outstanding requests.

use anyhow::{Context, Result};
use pfs_client::Client;
use pfs_wire::{Element, Guid};

use super::{Args, Booker, Job, Step};

/// Adds a requestable repeat course to a patient through the admin API; returns its id.
async fn add_course(a: &Args, patient_id: &str, n: usize) -> Result<String> {
    let course = crate::admin::request(
        &a.data_dir,
        "POST",
        &format!("/api/patients/{patient_id}/courses"),
        Some(serde_json::json!({
            "drug": format!("Bench tablets {n}mg"),
            "details": "One to be taken each day - 28 tablet",
            "courseType": "Repeat",
            "requestable": true,
        })),
    )
    .await
    .context("adding a bench course through the admin API")?;
    Ok(course["id"]
        .as_str()
        .context("a course without an id")?
        .to_owned())
}

/// A per-patient request of `message_type` for `patient_id`.
fn scoped(message_type: &str, ods: &str, patient_id: &str) -> Element {
    Element::new(message_type)
        .attr("apiVersion", "1")
        .attr("uuid", Guid::new_v4().to_string())
        .attr("unitId", ods)
        .attr("patientId", patient_id)
        .attr("onlineUserId", patient_id)
}

/// Makes sure the job's patient has at least `n` current repeat courses.
pub(super) async fn give_courses(a: &Args, client: &Client, job: &Job, n: usize) -> Result<()> {
    let patient_id = job.template.get("patientId").unwrap_or_default().to_owned();
    let held = client
        .raw("ListRepeatMedication", job.suid.as_deref(), job.body())
        .await?
        .decode::<pfs_wire::ListRepeatMedicationReply>()?
        .medications
        .len();
    for k in held..n {
        add_course(a, &patient_id, k).await?;
    }
    Ok(())
}

/// Worker `i`'s job: orders for the patients `deal_courses` gives it.
pub(super) fn order_job(ods: &str, bookers: &[Booker], i: usize) -> Job {
    let template = Element::new("RequestMedication").attr("unitId", ods);
    let mut job = Job::new("RequestMedication", None, template);
    job.bookers = bookers.to_vec();
    job.turn = i;
    job
}

/// Gives every bench patient `--courses` new courses and deals the orders out: each patient's
/// orders to one worker, in turn with that worker's other patients.
pub(super) async fn deal_courses(a: &Args, bookers: &[Booker], jobs: &mut [Job]) -> Result<()> {
    let workers = jobs.len();
    let mut per_worker: Vec<Vec<Vec<(usize, String)>>> = vec![Vec::new(); workers];
    for (b, booker) in bookers.iter().enumerate() {
        let mut courses = Vec::with_capacity(a.courses);
        for n in 0..a.courses {
            courses.push((b, add_course(a, &booker.patient_id, n).await?));
        }
        per_worker[b % workers].push(courses);
        if (b + 1) % 8 == 0 {
            eprintln!("courses added for {} of {} patients", b + 1, bookers.len());
        }
    }
    for (job, mut patients) in jobs.iter_mut().zip(per_worker) {
        // Round robin over the worker's patients; orders are popped from the end.
        while patients.iter().any(|p| !p.is_empty()) {
            for p in patients.iter_mut() {
                if let Some(order) = p.pop() {
                    job.orders.push(order);
                }
            }
        }
        job.orders.reverse();
    }
    eprintln!(
        "{} courses dealt to {workers} workers",
        jobs.iter().map(|j| j.orders.len()).sum::<usize>()
    );
    Ok(())
}

/// The next order: fetch the patient's list, then order one course.
pub(super) fn next_order(job: &mut Job) -> Option<Vec<Step>> {
    let (b, course) = job.orders.pop()?;
    let booker = job.bookers.get(b)?;
    let ods = job.template.get("unitId").unwrap_or_default();
    let list = scoped("ListRepeatMedication", ods, &booker.patient_id);
    let order = scoped("RequestMedication", ods, &booker.patient_id).child(
        Element::new("Medication")
            .attr("drugId", course)
            .attr("type", "Repeat"),
    );
    let suid = Some(booker.suid.clone());
    Some(vec![
        Step {
            message_type: "ListRepeatMedication",
            suid: suid.clone(),
            body: list.to_document(),
        },
        Step {
            message_type: "RequestMedication",
            suid,
            body: order.to_document(),
        },
    ])
}

/// Reads the practice's outstanding requests back through the admin API and fails if a course
/// is in two of them.
pub(super) async fn check_no_double_orders(a: &Args) -> Result<()> {
    let accounts: Vec<super::DemoAccount> = serde_json::from_slice(&std::fs::read(&a.accounts)?)?;
    let ods = &accounts.first().context("no accounts")?.organisation_code;
    let pending = crate::admin::request(
        &a.data_dir,
        "GET",
        &format!("/api/practices/{ods}/prescription-requests"),
        None,
    )
    .await?;
    let pending = pending
        .as_array()
        .context("the pending requests list is not an array")?;
    let courses: Vec<String> = pending
        .iter()
        .flat_map(|r| r["items"].as_array().cloned().unwrap_or_default())
        .map(|i| i["courseId"].to_string())
        .collect();
    let distinct: std::collections::HashSet<&String> = courses.iter().collect();
    let doubles = courses.len() - distinct.len();
    println!(
        "outstanding requests: {}  courses in them: {}  courses requested twice: {doubles}",
        pending.len(),
        courses.len()
    );
    anyhow::ensure!(
        doubles == 0,
        "{doubles} courses have two outstanding requests"
    );
    Ok(())
}
