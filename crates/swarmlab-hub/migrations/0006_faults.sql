-- swarmlab hub schema, version 6: what a verifier said when it reported a fault on a job,
-- signed, so that a submission that enough verifiers fault on can end `unverifiable` with
-- the faults in its ledger entry.

ALTER TABLE job_leases ADD COLUMN fault_ms BIGINT;
ALTER TABLE job_leases ADD COLUMN measurements TEXT;
ALTER TABLE job_leases ADD COLUMN signature TEXT;
