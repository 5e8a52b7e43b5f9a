-- swarmlab hub schema, version 2: verification quotas. An identity without a row has the
-- configured initial quota.

CREATE TABLE quotas (
    identity TEXT PRIMARY KEY,
    cap BIGINT NOT NULL
);

-- Counting a worker's submissions waiting for verification.
CREATE INDEX submissions_waiting ON submissions (worker, status);
