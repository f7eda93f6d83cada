-- Linkage throttles that can be forgotten: when each (account id, provider) pair's last failure
-- was counted (unix ms), so that housekeeping can delete pairs that are no longer locked and
-- have not failed for a while (AccountStore::purge_link_throttles). Rows from before this
-- migration count as last failing at 0, so they go once their lock has expired.
ALTER TABLE link_throttles ADD COLUMN last_failure_at INTEGER NOT NULL DEFAULT 0;

CREATE INDEX link_throttles_last_failure_at ON link_throttles (last_failure_at);
