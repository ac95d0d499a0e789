-- Most jobs carry no tags, yet a GIN index stores an entry for an empty array too: every version of
-- every job row (a tracked job's row is written four times on its way to `sent`) went through the
-- index's pending list, whose clean-up, run by whichever statement fills it, stalls that statement.
-- Only tagged jobs are indexed now. The tag filter (`tags @> ARRAY[...]`, at least one tag) also
-- says `tags <> '{}'`, which lets the planner use this partial index.
DROP INDEX idx_email_jobs_tags;
CREATE INDEX idx_email_jobs_tags ON email_jobs USING GIN (tags) WHERE tags <> '{}';
