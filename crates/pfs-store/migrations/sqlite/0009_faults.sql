-- Fault injection rules. The rule itself (match, trigger, action) is one JSON document, so that
-- a new kind of fault needs no migration; the counters are columns, updated by single
-- statements. AUTOINCREMENT: an id is never given twice, even after its rule is removed.
CREATE TABLE fault_rules (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at    INTEGER NOT NULL,
    spec          TEXT    NOT NULL,
    matched       INTEGER NOT NULL DEFAULT 0 CHECK (matched >= 0),
    hits          INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
    remaining     INTEGER CHECK (remaining >= 0)
) STRICT;

-- The version of the set of rules that apply: moved when a rule is added, removed or spent.
-- Instances poll it to know when to read the rules again.
CREATE TABLE fault_rules_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO fault_rules_version (id, version) VALUES (1, 0);
