-- The most reruns of each side the sequential test may ask for. NULL for tracks added
-- before the cap existed: their rule stays what their ledger recorded (the cap is `reruns`).
ALTER TABLE tracks ADD COLUMN max_reruns BIGINT;
