//! `pfs admin sandbox` and `pfs admin clock`: snapshots, reset to the demo seed, and time
//! travel.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum SandboxCmd {
    /// Back to the demo seed: every table as it was right after the first start.
    Reset,
    /// Save the data as it is now under NAME (replacing a snapshot of that name).
    Snapshot { name: String },
    /// Put back snapshot NAME: every table as it was when it was saved.
    Restore { name: String },
    /// The saved snapshots.
    Snapshots,
    /// Delete snapshot NAME.
    Delete { name: String },
}

pub(super) async fn run_sandbox(api: &Api, cmd: SandboxCmd) -> Result<Value> {
    match cmd {
        SandboxCmd::Reset => api.send("POST", "/api/sandbox/reset", None).await,
        SandboxCmd::Snapshot { name } => {
            api.send(
                "POST",
                "/api/sandbox/snapshots",
                Some(json!({ "name": name })),
            )
            .await
        }
        SandboxCmd::Restore { name } => {
            let path = format!("/api/sandbox/snapshots/{}/restore", segment(&name)?);
            api.send("POST", &path, None).await
        }
        SandboxCmd::Snapshots => api.send("GET", "/api/sandbox/snapshots", None).await,
        SandboxCmd::Delete { name } => {
            let path = format!("/api/sandbox/snapshots/{}", segment(&name)?);
            api.send("DELETE", &path, None).await
        }
    }
}

/// A snapshot name as a path segment: names are plain, so anything else is refused here
/// rather than sent.
fn segment(name: &str) -> Result<&str> {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.is_empty()
    {
        Ok(name)
    } else {
        bail!("a snapshot name is lower-case letters, digits, - and _")
    }
}

/// Options of `pfs admin seed`.
#[derive(clap::Args)]
pub(super) struct SeedArgs {
    /// Practices to make (1 to 99).
    #[arg(long, default_value_t = 1)]
    practices: u32,
    /// Patients per practice (1 to 99,999).
    #[arg(long)]
    patients: u32,
    /// The seed: the same seed gives the same practices and patients.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Patients per request (one transaction each; 1 to 10,000).
    #[arg(long, default_value_t = 5_000)]
    batch: u32,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Seeds the practices, then each practice's patients batch by batch, with a progress bar;
/// prints what was made and how fast.
pub(super) async fn run_seed(api: &Api, a: SeedArgs) -> Result<Value> {
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let started = Instant::now();
    let made = api
        .send(
            "POST",
            "/api/sandbox/seed/practices",
            Some(json!({ "seed": a.seed, "count": a.practices })),
        )
        .await?;
    let total = u64::from(a.practices) * u64::from(a.patients);
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "[{bar:40}] {human_pos}/{human_len} patients ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    for practice in 1..=a.practices {
        let mut from = 0;
        while from < a.patients {
            let count = a.batch.min(a.patients - from);
            let sent = api
                .send(
                    "POST",
                    "/api/sandbox/seed/patients",
                    Some(json!({
                        "seed": a.seed, "practice": practice, "from": from, "count": count,
                    })),
                )
                .await;
            if let Err(e) = sent {
                bar.abandon();
                let done = u64::from(practice - 1) * u64::from(a.patients) + u64::from(from);
                return Err(e.context(format!(
                    "practice {practice}, patients {from} to {}: not seeded ({done} patients before them were)",
                    from + count - 1
                )));
            }
            from += count;
            bar.inc(u64::from(count));
        }
    }
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "seed": a.seed,
        "practices": made["practices"],
        "patients": total,
        "seconds": (seconds * 100.0).round() / 100.0,
        "patientsPerSecond": (total as f64 / seconds.max(1e-9)).round(),
    }))
}

#[derive(Subcommand)]
pub(super) enum ClockCmd {
    /// What the server takes to be now, and the offset from real time.
    Show,
    /// Set the offset from real time, e.g. `2h`, `3d`, `-1d12h`, `90m`, `45s`.
    Set {
        #[arg(allow_hyphen_values = true, value_parser = parse_duration)]
        offset: i64,
    },
    /// Move the clock on (or back, with a minus sign) from where it is, e.g. `31m`.
    Advance {
        #[arg(allow_hyphen_values = true, value_parser = parse_duration)]
        by: i64,
    },
    /// Move the clock so that it reads this instant now (RFC 3339, e.g. 2026-12-24T09:00:00Z).
    At { now: String },
    /// Back to real time.
    Reset,
}

pub(super) async fn run_clock(api: &Api, cmd: ClockCmd) -> Result<Value> {
    const PATH: &str = "/api/sandbox/clock";
    match cmd {
        ClockCmd::Show => api.send("GET", PATH, None).await,
        ClockCmd::Set { offset } => {
            api.send("PUT", PATH, Some(json!({ "offsetSeconds": offset })))
                .await
        }
        ClockCmd::Advance { by } => {
            api.send("PUT", PATH, Some(json!({ "advanceSeconds": by })))
                .await
        }
        ClockCmd::At { now } => api.send("PUT", PATH, Some(json!({ "now": now }))).await,
        ClockCmd::Reset => api.send("DELETE", PATH, None).await,
    }
}

/// A duration as people write it: an optional sign, then numbers with units `d`, `h`, `m`,
/// `s` (`1d12h`, `-90m`), or a bare number of seconds. In whole seconds.
fn parse_duration(text: &str) -> Result<i64> {
    let (sign, rest) = match text.trim().strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.trim().trim_start_matches('+')),
    };
    if let Ok(seconds) = rest.parse::<i64>() {
        return Ok(sign * seconds);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => bail!("`{text}`: use numbers with d, h, m or s, e.g. 1d12h or -90m"),
        };
        let n: i64 = number
            .parse()
            .with_context(|| format!("`{text}`: a number must come before each unit"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .context("the duration is too long")?;
        number.clear();
    }
    if !number.is_empty() || rest.is_empty() {
        bail!("`{text}`: every number needs a unit (d, h, m or s), e.g. 1d12h or -90m");
    }
    Ok(sign * total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("45").unwrap(), 45);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        assert_eq!(parse_duration("90m").unwrap(), 5_400);
        assert_eq!(parse_duration("+2h").unwrap(), 7_200);
        assert_eq!(parse_duration("-1d12h").unwrap(), -129_600);
        assert_eq!(parse_duration("1h30m15s").unwrap(), 5_415);
    }

    #[test]
    fn durations_that_mean_nothing_are_refused() {
        for bad in ["", "-", "h", "2x", "3d4", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
