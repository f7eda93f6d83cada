//! `pfs admin`: the practice side, as a client of the admin API.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Subcommand;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// Options of `pfs admin`.
#[derive(clap::Args)]
pub struct Args {
    /// Admin API base URL; default: DATA_DIR/admin-url written by the running server.
    #[arg(long, env = "PFS_ADMIN_URL")]
    url: Option<String>,
    /// Admin token; default: DATA_DIR/admin-token.
    #[arg(long, env = "PFS_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The server's data directory (for the defaults above).
    #[arg(long, env = "PFS_DATA_DIR", default_value = "pfs-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Third-party providers (apps) and their client certificates.
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// GP practices.
    #[command(subcommand)]
    Practice(PracticeCmd),
    /// Patients.
    #[command(subcommand)]
    Patient(PatientCmd),
    /// Online accounts and linkage keys.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Proxy access: one online user acting for another patient.
    #[command(subcommand)]
    Proxy(ProxyCmd),
    /// Service switches.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Appointment sessions (a clinician's run of equal slots).
    #[command(subcommand)]
    Session(SessionCmd),
    /// Booked appointments.
    #[command(subcommand)]
    Appointment(AppointmentCmd),
    /// Whether the server and its database answer.
    Health,
}

#[derive(Subcommand)]
enum ProviderCmd {
    /// Register a provider: issues a client certificate and key and writes them to --out.
    Add {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// May use the NHS-login LinkAccount variants (retrieve, create).
        #[arg(long)]
        trusted_identity: bool,
        /// Where to write client.pem, client-key.pem, ca.pem and provider-id.
        #[arg(long)]
        out: PathBuf,
    },
    /// List providers.
    List,
    /// Revoke a provider at once (its certificate is refused, its sessions end).
    Revoke {
        /// Provider id.
        id: String,
    },
}

#[derive(Subcommand)]
enum PracticeCmd {
    /// Add a practice.
    Add {
        /// ODS code.
        #[arg(long)]
        ods: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// One-line address.
        #[arg(long)]
        address: String,
        /// Youngest age for self-linking (default 16).
        #[arg(long)]
        minimum_age: Option<u32>,
    },
    /// List practices.
    List,
    /// Change a practice's settings (the ones not given keep their values).
    Settings {
        /// ODS code.
        ods: String,
        /// Youngest age for self-linking.
        #[arg(long)]
        minimum_age: Option<u32>,
        /// How many days ahead patients may see and book slots.
        #[arg(long)]
        booking_window_days: Option<u32>,
        /// Most future appointments a patient may hold.
        #[arg(long)]
        max_future_appointments: Option<u32>,
        /// Minutes before the start within which patients can no longer cancel online.
        #[arg(long)]
        cancellation_cutoff_minutes: Option<u32>,
        /// Booking guidance shown above the slot list ("" clears it).
        #[arg(long)]
        booking_guidance: Option<String>,
        /// Text shown after a medication request ("" clears it).
        #[arg(long)]
        medication_request_confirmation: Option<String>,
        /// Medication guidance ("" clears it).
        #[arg(long)]
        medication_guidance: Option<String>,
    },
}

#[derive(Subcommand)]
enum SessionCmd {
    /// Create a session from a template.
    Add {
        /// Practice ODS code.
        #[arg(long)]
        ods: String,
        /// Session name, e.g. "Morning surgery".
        #[arg(long)]
        session_type: String,
        /// Clinician, e.g. "Dr A Jones (Female)".
        #[arg(long)]
        staff: String,
        /// Location, e.g. "Main site".
        #[arg(long)]
        location: String,
        /// Slot type, e.g. Routine, Telephone, Nurse.
        #[arg(long)]
        slot_type: String,
        /// Start of the first slot, UK local time YYYY-MM-DDTHH:MM.
        #[arg(long)]
        start: String,
        /// Slot length in minutes.
        #[arg(long)]
        slot_minutes: u32,
        /// Number of slots.
        #[arg(long)]
        slot_count: u32,
    },
    /// List a practice's sessions.
    List(PracticeDates),
}

#[derive(Subcommand)]
enum AppointmentCmd {
    /// List a practice's bookings.
    List(PracticeDates),
    /// Cancel an appointment as the practice.
    Cancel {
        /// Appointment id.
        id: String,
    },
}

/// A practice and a range of UK dates, for the listings by date.
#[derive(clap::Args)]
struct PracticeDates {
    /// Practice ODS code.
    ods: String,
    /// First UK date, YYYY-MM-DD (default today).
    #[arg(long)]
    from: Option<String>,
    /// Last UK date, inclusive (default 56 days after --from).
    #[arg(long)]
    to: Option<String>,
}

impl PracticeDates {
    /// The admin API path of the practice's `listing`, with the dates as its query.
    fn path(&self, listing: &str) -> String {
        let parts: Vec<String> = [("from", &self.from), ("to", &self.to)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        let query = if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        };
        format!("/api/practices/{}/{listing}{query}", self.ods)
    }
}

#[derive(Subcommand)]
enum PatientCmd {
    /// Add a patient.
    Add {
        /// Practice ODS code.
        #[arg(long)]
        ods: String,
        /// NHS number (10 digits, valid check digit).
        #[arg(long)]
        nhs_number: String,
        /// Title.
        #[arg(long)]
        title: Option<String>,
        /// Given names.
        #[arg(long)]
        first_name: String,
        /// Family name.
        #[arg(long)]
        last_name: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date_of_birth: String,
        /// Gender text, e.g. Female.
        #[arg(long)]
        gender: String,
        /// One-line address.
        #[arg(long)]
        address: String,
    },
    /// List patients.
    List {
        /// Only this practice.
        #[arg(long)]
        ods: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Open the patient's online account if needed and issue a new linkage key.
    Issue {
        /// Patient id.
        patient_id: String,
        /// Contact e-mail.
        #[arg(long)]
        email: Option<String>,
        /// Contact mobile.
        #[arg(long)]
        mobile: Option<String>,
    },
    /// End an online account.
    End {
        /// Account id.
        account_id: String,
    },
}

#[derive(Subcommand)]
enum ProxyCmd {
    /// Let GRANTEE (an online user's patient id) act for PATIENT.
    Grant { grantee: String, patient: String },
    /// Withdraw a grant.
    Revoke { grantee: String, patient: String },
    /// Patients GRANTEE may act for.
    List { grantee: String },
}

#[derive(Subcommand)]
enum ServiceCmd {
    /// Switch a service on or off (or clear the switch) for a practice or a patient.
    Set {
        /// Service key, e.g. messaging, appointments.
        service: String,
        /// A practice (ODS code).
        #[arg(long, conflicts_with = "patient", required_unless_present = "patient")]
        ods: Option<String>,
        /// A patient (patient id).
        #[arg(long)]
        patient: Option<String>,
        /// on, off or clear.
        #[arg(value_parser = ["on", "off", "clear"])]
        state: String,
    },
    /// The effective state of every service for a patient.
    List { patient_id: String },
}

pub async fn run(a: Args) -> Result<()> {
    let api = Api::from_args(&a)?;
    let out = match a.what {
        What::Health => api.send("GET", "/health", None).await?,
        What::Provider(ProviderCmd::Add { name, trusted_identity, out }) => {
            let v = api
                .send("POST", "/api/providers", Some(json!({"name": name, "trustedIdentity": trusted_identity})))
                .await?;
            write_credentials(&out, &v)?;
            json!({"id": v["id"], "name": v["name"], "fingerprint": v["fingerprint"], "written": out})
        }
        What::Provider(ProviderCmd::List) => api.send("GET", "/api/providers", None).await?,
        What::Provider(ProviderCmd::Revoke { id }) => {
            api.send("POST", &format!("/api/providers/{id}/revoke"), None).await?
        }
        What::Practice(PracticeCmd::Add { ods, name, address, minimum_age }) => {
            let settings = minimum_age.map(|m| json!({"minimumAge": m}));
            api.send(
                "POST",
                "/api/practices",
                Some(json!({"ods": ods, "name": name, "address": address, "settings": settings})),
            )
            .await?
        }
        What::Practice(PracticeCmd::List) => api.send("GET", "/api/practices", None).await?,
        What::Practice(PracticeCmd::Settings {
            ods,
            minimum_age,
            booking_window_days,
            max_future_appointments,
            cancellation_cutoff_minutes,
            booking_guidance,
            medication_request_confirmation,
            medication_guidance,
        }) => {
            let practices = api.send("GET", "/api/practices", None).await?;
            let mut settings = practices
                .as_array()
                .and_then(|all| {
                    all.iter()
                        .find(|p| p["ods"].as_str().is_some_and(|o| o.eq_ignore_ascii_case(&ods)))
                })
                .map(|p| p["settings"].clone())
                .with_context(|| format!("no practice {ods}"))?;
            let text = |t: String| if t.is_empty() { Value::Null } else { json!(t) };
            let changes = [
                ("minimumAge", minimum_age.map(|v| json!(v))),
                ("bookingWindowDays", booking_window_days.map(|v| json!(v))),
                ("maxFutureAppointments", max_future_appointments.map(|v| json!(v))),
                ("cancellationCutoffMinutes", cancellation_cutoff_minutes.map(|v| json!(v))),
                ("bookingGuidance", booking_guidance.map(text)),
                ("medicationRequestConfirmation", medication_request_confirmation.map(text)),
                ("medicationGuidance", medication_guidance.map(text)),
            ];
            for (key, value) in changes {
                if let Some(v) = value {
                    settings[key] = v;
                }
            }
            api.send("PUT", &format!("/api/practices/{ods}/settings"), Some(settings)).await?
        }
        What::Session(SessionCmd::Add {
            ods,
            session_type,
            staff,
            location,
            slot_type,
            start,
            slot_minutes,
            slot_count,
        }) => {
            api.send(
                "POST",
                &format!("/api/practices/{ods}/sessions"),
                Some(json!({
                    "sessionType": session_type, "staffDetails": staff, "location": location,
                    "slotType": slot_type, "start": start, "slotMinutes": slot_minutes,
                    "slotCount": slot_count
                })),
            )
            .await?
        }
        What::Session(SessionCmd::List(dates)) => {
            api.send("GET", &dates.path("sessions"), None).await?
        }
        What::Appointment(AppointmentCmd::List(dates)) => {
            api.send("GET", &dates.path("appointments"), None).await?
        }
        What::Appointment(AppointmentCmd::Cancel { id }) => {
            api.send("POST", &format!("/api/appointments/{id}/cancel"), None).await?
        }
        What::Patient(PatientCmd::Add { ods, nhs_number, title, first_name, last_name, date_of_birth, gender, address }) => {
            api.send(
                "POST",
                "/api/patients",
                Some(json!({
                    "ods": ods, "nhsNumber": nhs_number, "title": title, "firstName": first_name,
                    "lastName": last_name, "dateOfBirth": date_of_birth, "gender": gender, "address": address
                })),
            )
            .await?
        }
        What::Patient(PatientCmd::List { ods }) => {
            let q = ods.map(|o| format!("?ods={o}")).unwrap_or_default();
            api.send("GET", &format!("/api/patients{q}"), None).await?
        }
        What::Account(AccountCmd::Issue { patient_id, email, mobile }) => {
            api.send("POST", &format!("/api/patients/{patient_id}/account"), Some(json!({"email": email, "mobile": mobile})))
                .await?
        }
        What::Account(AccountCmd::End { account_id }) => {
            api.send("POST", &format!("/api/accounts/{account_id}/end"), None).await?
        }
        What::Proxy(ProxyCmd::Grant { grantee, patient }) => {
            api.send("POST", &format!("/api/patients/{grantee}/proxies"), Some(json!({"patientId": patient})))
                .await?
        }
        What::Proxy(ProxyCmd::Revoke { grantee, patient }) => {
            api.send("DELETE", &format!("/api/patients/{grantee}/proxies/{patient}"), None).await?
        }
        What::Proxy(ProxyCmd::List { grantee }) => {
            api.send("GET", &format!("/api/patients/{grantee}/proxies"), None).await?
        }
        What::Service(ServiceCmd::Set { service, ods, patient, state }) => {
            let enabled = match state.as_str() {
                "on" => json!(true),
                "off" => json!(false),
                _ => Value::Null,
            };
            let path = match (ods, patient) {
                (_, Some(p)) => format!("/api/patients/{p}/services/{service}"),
                (Some(o), None) => format!("/api/practices/{o}/services/{service}"),
                (None, None) => bail!("give --ods or --patient"),
            };
            api.send("PUT", &path, Some(json!({"enabled": enabled}))).await?
        }
        What::Service(ServiceCmd::List { patient_id }) => {
            api.send("GET", &format!("/api/patients/{patient_id}/services"), None).await?
        }
    };
    if !out.is_null() {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

fn write_credentials(out: &std::path::Path, v: &Value) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let field = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .with_context(|| format!("reply lacks {k}"))
    };
    pfs_server::datadir::write_public(&out.join("client.pem"), &field("certPem")?)?;
    pfs_server::datadir::write_secret(&out.join("client-key.pem"), &field("keyPem")?)?;
    pfs_server::datadir::write_public(&out.join("ca.pem"), &field("caPem")?)?;
    pfs_server::datadir::write_secret(&out.join("provider-id"), &(field("id")? + "\n"))?;
    Ok(())
}

struct Api {
    base: String,
    token: String,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// One admin API call for another command (e.g. `pfs bench` adjusting practice rules), with the
/// URL and token of the server whose data directory is `data_dir`.
pub async fn request(
    data_dir: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value> {
    Api::new(None, None, data_dir)?
        .send(method, path, body)
        .await
}

impl Api {
    fn from_args(a: &Args) -> Result<Self> {
        Api::new(a.url.as_deref(), a.token.as_deref(), &a.data_dir)
    }

    fn new(url: Option<&str>, token: Option<&str>, data_dir: &std::path::Path) -> Result<Self> {
        let read = |name: &str| {
            let p = data_dir.join(name);
            std::fs::read_to_string(&p)
                .map(|s| s.trim().to_owned())
                .with_context(|| {
                    format!(
                        "cannot read {} (is the server running with --data-dir {}?)",
                        p.display(),
                        data_dir.display()
                    )
                })
        };
        let base = match url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => read("admin-url")?,
        };
        let token = match token {
            Some(t) => t.to_owned(),
            None => read("admin-token")?,
        };
        Ok(Api {
            base,
            token,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let res = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if !status.is_success() {
            let msg = value["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            bail!("{status}: {msg}");
        }
        Ok(value)
    }
}
