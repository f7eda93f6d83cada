//! Sandbox control: snapshots saved and restored by name, and reset to the demo seed.

use super::AdminError;
use crate::Pfs;
use crate::store::SnapshotInfo;

/// The snapshot taken right after the demo is seeded, which a reset restores. Kept for that:
/// it cannot be saved over or deleted through the admin API.
pub const DEMO_SNAPSHOT: &str = "demo";

/// The longest snapshot name.
pub const MAX_SNAPSHOT_NAME: usize = 40;

/// Refuses a snapshot name that is not 1 to 40 lower-case letters, digits, `-` and `_`.
fn check_name(name: &str) -> Result<(), AdminError> {
    check_plain_name("snapshot", name)
}

/// Refuses a name of a `what` (a snapshot, a namespace) that is not 1 to 40 lower-case letters,
/// digits, `-` and `_`.
pub(super) fn check_plain_name(what: &str, name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SNAPSHOT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "a {what} name is 1 to {MAX_SNAPSHOT_NAME} lower-case letters, digits, - and _"
        )))
    }
}

fn not_the_demo(name: &str) -> Result<(), AdminError> {
    if name == DEMO_SNAPSHOT {
        Err(AdminError::Invalid(
            "the snapshot `demo` is the demo seed, which a reset restores; choose another name"
                .into(),
        ))
    } else {
        Ok(())
    }
}

impl Pfs {
    /// Saves every table's data as snapshot `name`, replacing one of that name. The access-log
    /// entries still queued behind their replies are written first, so the snapshot holds them.
    pub async fn save_snapshot(&self, name: &str) -> Result<SnapshotInfo, AdminError> {
        check_name(name)?;
        not_the_demo(name)?;
        self.save_snapshot_as(name).await
    }

    /// Saves the demo snapshot; for the demo seed, right after it is written.
    pub async fn save_demo_snapshot(&self) -> Result<SnapshotInfo, AdminError> {
        self.save_snapshot_as(DEMO_SNAPSHOT).await
    }

    async fn save_snapshot_as(&self, name: &str) -> Result<SnapshotInfo, AdminError> {
        self.flush_writes().await?;
        let taken_at = self.clock.now();
        self.store.save_snapshot(name, taken_at).await?;
        tracing::info!(snapshot = name, "sandbox snapshot saved");
        Ok(SnapshotInfo {
            name: name.to_owned(),
            taken_at,
        })
    }

    /// Puts back snapshot `name`: every table's data as it was when it was taken, in one
    /// transaction. Open sessions that the snapshot did not hold end with it.
    pub async fn restore_snapshot(&self, name: &str) -> Result<(), AdminError> {
        check_name(name)?;
        // Entries queued before the restore belong to the data it replaces: write them first,
        // so that none lands after it.
        self.flush_writes().await?;
        self.store
            .restore_snapshot(name)
            .await
            .map_err(|e| match e {
                crate::StoreError::NotFound(_) if name == DEMO_SNAPSHOT => AdminError::NotFound(
                    "demo snapshot: this database was not seeded with the demo (`pfs serve --demo` on a new data directory), so there is nothing to reset to".into(),
                ),
                other => other.into(),
            })?;
        tracing::info!(snapshot = name, "sandbox snapshot restored");
        Ok(())
    }

    /// Back to the demo seed: restores the demo snapshot.
    pub async fn reset_to_demo(&self) -> Result<(), AdminError> {
        self.restore_snapshot(DEMO_SNAPSHOT).await
    }

    /// Every snapshot, by name.
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>, AdminError> {
        Ok(self.store.list_snapshots().await?)
    }

    /// Deletes snapshot `name`.
    pub async fn delete_snapshot(&self, name: &str) -> Result<(), AdminError> {
        check_name(name)?;
        not_the_demo(name)?;
        Ok(self.store.delete_snapshot(name).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn snapshot_names_are_short_and_plain() {
        for ok in ["a", "before-each", "suite_2", &"x".repeat(40)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Upper",
            "has space",
            "../up",
            "a/b",
            "dot.db",
            &"x".repeat(41),
            "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
