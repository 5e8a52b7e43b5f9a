-- swarmlab hub schema, version 3: indexes for the dashboard's reads
-- (src/store/sqlite_views.rs). Portable SQL, like 0001.

CREATE INDEX chain_commit ON chain (track, commit_id);
CREATE INDEX chain_submission ON chain (submission_id);
CREATE INDEX submissions_track_time ON submissions (track, received_ms);
CREATE INDEX submissions_track_status ON submissions (track, status);
CREATE INDEX submissions_track_worker ON submissions (track, worker, status);
CREATE INDEX submissions_worker ON submissions (worker, id);
CREATE INDEX jobs_track ON jobs (track, state);
CREATE INDEX jobs_submission ON jobs (submission_id);
CREATE INDEX verdicts_job ON verdicts (job_id);
CREATE INDEX verdicts_submission ON verdicts (submission_id);
CREATE INDEX ideas_track ON ideas (track, id);
CREATE INDEX ideas_author ON ideas (track, author);
