-- Fault injection rules. The rule itself (match, trigger, action) is one JSON document, so that
-- a new kind of fault needs no migration; the counters are columns, updated by single
-- statements, so that counts are exact however many instances serve.
CREATE TABLE fault_rules (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    bigint NOT NULL,
    spec          text   NOT NULL,
    matched       bigint NOT NULL DEFAULT 0 CHECK (matched >= 0),
    hits          bigint NOT NULL DEFAULT 0 CHECK (hits >= 0),
    remaining     bigint CHECK (remaining >= 0)
);

-- The version of the set of rules that apply: moved when a rule is added, removed or spent.
-- Instances poll it (about once a second) to know when to read the rules again.
CREATE TABLE fault_rules_version (
    id      integer NOT NULL PRIMARY KEY CHECK (id = 1),
    version bigint  NOT NULL
);

INSERT INTO fault_rules_version (id, version) VALUES (1, 0);
