-- swarmlab hub schema, version 3: the head's reruns from each decisive report, per hardware
-- class, from which the noise of a track's metric is estimated.

CREATE TABLE head_measurements (
    track TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    hardware_class TEXT NOT NULL,
    verdict_id BIGINT NOT NULL,
    rerun BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (verdict_id, rerun)
);
CREATE INDEX head_measurements_by_commit ON head_measurements (track, commit_id, hardware_class);
