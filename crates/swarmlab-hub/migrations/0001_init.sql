-- swarmlab hub schema, version 1. Portable SQL: runs unchanged on SQLite and PostgreSQL
-- (no AUTOINCREMENT/SERIAL: ids come from the counters table inside each transaction).

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('idea', 0);
INSERT INTO counters (name, value) VALUES ('submission', 0);
INSERT INTO counters (name, value) VALUES ('job', 0);
INSERT INTO counters (name, value) VALUES ('verdict', 0);

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    public_key TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE tracks (
    name TEXT PRIMARY KEY,
    baseline TEXT NOT NULL,
    head TEXT NOT NULL,
    metric TEXT NOT NULL,
    goal TEXT NOT NULL,
    reruns BIGINT NOT NULL,
    alpha DOUBLE PRECISION NOT NULL,
    min_delta DOUBLE PRECISION NOT NULL,
    editable TEXT NOT NULL,
    spec_toml TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE chain (
    track TEXT NOT NULL REFERENCES tracks (name),
    seq BIGINT NOT NULL,
    commit_id TEXT NOT NULL,
    parent TEXT,
    submission_id BIGINT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (track, seq)
);

CREATE TABLE ideas (
    id BIGINT PRIMARY KEY,
    track TEXT NOT NULL REFERENCES tracks (name),
    text TEXT NOT NULL,
    tags TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL,
    lease_holder TEXT,
    lease_deadline_ms BIGINT,
    duplicate_of BIGINT,
    similarity DOUBLE PRECISION,
    created_ms BIGINT NOT NULL
);
CREATE INDEX ideas_queue ON ideas (track, state, id);

CREATE TABLE nonces (
    identity TEXT NOT NULL,
    nonce TEXT NOT NULL,
    PRIMARY KEY (identity, nonce)
);

CREATE TABLE submissions (
    id BIGINT PRIMARY KEY,
    track TEXT NOT NULL REFERENCES tracks (name),
    worker TEXT NOT NULL,
    idea_id BIGINT,
    parent TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    candidate TEXT,
    base TEXT,
    diff_hash TEXT NOT NULL,
    claim_json TEXT NOT NULL,
    signature TEXT NOT NULL,
    log TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    received_ms BIGINT NOT NULL
);
CREATE INDEX submissions_diff ON submissions (track, diff_hash);
CREATE INDEX submissions_idea ON submissions (idea_id);

CREATE TABLE jobs (
    id BIGINT PRIMARY KEY,
    submission_id BIGINT NOT NULL REFERENCES submissions (id),
    track TEXT NOT NULL,
    candidate TEXT NOT NULL,
    base TEXT NOT NULL,
    state TEXT NOT NULL,
    verifier TEXT,
    lease_deadline_ms BIGINT,
    partial TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX jobs_queue ON jobs (state, id);

CREATE TABLE job_leases (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    verifier TEXT NOT NULL,
    leased_ms BIGINT NOT NULL,
    outcome TEXT,
    PRIMARY KEY (job_id, verifier)
);

CREATE TABLE verdicts (
    id BIGINT PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    submission_id BIGINT NOT NULL,
    verifier TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT,
    p_value DOUBLE PRECISION,
    measurements TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

CREATE TABLE ledger (
    track TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (track, seq)
);
