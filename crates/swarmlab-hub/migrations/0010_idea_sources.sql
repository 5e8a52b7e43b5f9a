-- Where an idea came from (a document and the passage it cites, as JSON), when its poster
-- said: `swarmlab ideas` posts each idea with the passage it was drawn from. NULL for ideas
-- written by hand and for those added before sources existed.
ALTER TABLE ideas ADD COLUMN source TEXT;
