-- Sandbox namespaces: a practice (and later a provider) made for one test run. Deleting one
-- deletes its practice, its provider and every row that refers to either; `deleting` marks,
-- inside that transaction only, the namespace whose rows go.
CREATE TABLE sandbox_namespaces (
    name        TEXT    NOT NULL PRIMARY KEY,
    number      INTEGER NOT NULL UNIQUE CHECK (number >= 1),
    ods         TEXT    NOT NULL UNIQUE,
    provider_id TEXT,
    created_at  INTEGER NOT NULL,
    deleting    INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1))
) STRICT;
