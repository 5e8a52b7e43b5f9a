-- swarmlab hub schema, version 7: invite codes. On a hub whose registration is by invite,
-- a worker registers with a code an admin made; each code is used once. Codes are stored
-- as their SHA-256, as tokens are.

CREATE TABLE invites (
    code_sha256 TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    used_by TEXT,
    used_ms BIGINT
);
