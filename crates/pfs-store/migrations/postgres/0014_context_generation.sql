-- One counter that every write to a patient's context moves on, in the same transaction: the
-- patient's own columns that the context holds, their practice (name, address, settings) and
-- both sets of service switches. Each server instance keeps copies of patients' contexts
-- tagged with the counter as its session read saw it, and the session read returns the counter
-- again (postgres/batch.rs): a copy is used only if the counter has not moved since, so a
-- change made through any instance is seen by the next request on every instance.
--
-- Statement-level triggers: a bulk insert moves it once. Updates of other patient columns (the
-- record and messages tokens, which their own writes change) leave it alone; a column added
-- to the context later must be added to patients_context_update below. Sandbox snapshots
-- leave this table out, so a restore never winds the counter back (its TRUNCATE and inserts
-- move it on).

CREATE TABLE context_generation (
    id         integer NOT NULL PRIMARY KEY CHECK (id = 1),
    generation bigint  NOT NULL
);

INSERT INTO context_generation (id, generation) VALUES (1, 0);

CREATE FUNCTION pfs_context_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE context_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER patients_context_change AFTER INSERT OR DELETE OR TRUNCATE ON patients
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_context_generation_bump();
CREATE TRIGGER patients_context_update
    AFTER UPDATE OF id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                    address
    ON patients
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_context_generation_bump();
CREATE TRIGGER practices_context_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON practices
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_context_generation_bump();
CREATE TRIGGER practice_services_context_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON practice_services
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_context_generation_bump();
CREATE TRIGGER patient_services_context_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON patient_services
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_context_generation_bump();
