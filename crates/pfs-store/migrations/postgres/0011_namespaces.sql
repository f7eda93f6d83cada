-- Sandbox namespaces: a practice (and later a provider) made for one test run. Deleting one
-- deletes its practice, its provider and every row that refers to either; `deleting` marks,
-- inside that transaction only, the namespace whose rows go.
CREATE TABLE sandbox_namespaces (
    name        text    NOT NULL PRIMARY KEY,
    number      integer NOT NULL UNIQUE CHECK (number >= 1),
    ods         text    NOT NULL UNIQUE,
    provider_id text,
    created_at  bigint  NOT NULL,
    deleting    boolean NOT NULL DEFAULT false
);
