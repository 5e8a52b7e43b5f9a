-- swarmlab hub schema, version 5: canaries. A canary is a submission whose right verdict a
-- maintainer knows. The hub hands it to verifiers now and then as a job of its own, under a
-- fresh commit id; a verifier that decides one wrong is suspended and its recent verdicts
-- are verified again by others.

INSERT INTO counters (name, value) VALUES ('canary', 0);

CREATE TABLE canaries (
    id BIGINT PRIMARY KEY,
    track TEXT NOT NULL REFERENCES tracks (name),
    submission_id BIGINT NOT NULL REFERENCES submissions (id),
    -- The commit whose tree is verified again, and the commit it is measured against.
    candidate TEXT NOT NULL,
    base TEXT NOT NULL,
    -- `accept` or `reject`.
    expect TEXT NOT NULL,
    note TEXT NOT NULL,
    added_by TEXT NOT NULL,
    retired_ms BIGINT,
    created_ms BIGINT NOT NULL
);

-- A canary handed to one verifier. Its id comes from the jobs' counter, so a verifier cannot
-- tell it from a job by its number; it never leaves this table, so no public page shows it.
CREATE TABLE canary_jobs (
    id BIGINT PRIMARY KEY,
    canary_id BIGINT NOT NULL REFERENCES canaries (id),
    track TEXT NOT NULL,
    candidate TEXT NOT NULL,
    base TEXT NOT NULL,
    verifier TEXT NOT NULL,
    -- `leased` or `done`.
    state TEXT NOT NULL,
    lease_deadline_ms BIGINT,
    partial TEXT,
    -- `accept`, `reject`, `fault` or `expired` once done; `passed` says whether it matched.
    decision TEXT,
    passed BOOLEAN,
    measurements TEXT,
    created_ms BIGINT NOT NULL,
    decided_ms BIGINT
);
CREATE INDEX canary_jobs_verifier ON canary_jobs (verifier, state);

-- Per verifier: how many real jobs before its next canary, and a suspension. A verifier
-- without a row is due a canary and not suspended.
CREATE TABLE verifier_standing (
    verifier TEXT PRIMARY KEY,
    jobs_until_canary BIGINT NOT NULL,
    suspended_ms BIGINT,
    suspended_reason TEXT
);

-- A job that verifies a decided submission again, because the verifier of `recheck_of` (a
-- verdict) was suspended. That verifier may not take it.
ALTER TABLE jobs ADD COLUMN recheck_of BIGINT;

-- The re-check verdict that disagreed with an accepting verdict: the chain entry is disputed.
ALTER TABLE submissions ADD COLUMN disputed_by BIGINT;
