-- Which verifiers each track's ledger has enrolled (a `verifier_enrolled` entry), so that a
-- verifier's enrolment, suspension and reinstatement reach every ledger that holds, or may
-- come to hold, its reports. Tracks and verifiers that predate it are enrolled when the hub
-- opens.
CREATE TABLE ledger_verifiers (
    track TEXT NOT NULL,
    verifier TEXT NOT NULL,
    PRIMARY KEY (track, verifier)
);
