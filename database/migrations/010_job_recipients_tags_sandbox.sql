-- Cc and Bcc recipients, tags and sandbox jobs (the wire format's cc, bcc, tags, sandbox), so a
-- tracked job is still sent from its row alone.
ALTER TABLE email_jobs
    -- [{"email", "name"?}, ...]; NULL: none.
    ADD COLUMN cc JSONB,
    ADD COLUMN bcc JSONB,
    ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN sandbox BOOLEAN NOT NULL DEFAULT false;

-- ListEmailJobs filters on tags with `tags @> ARRAY[...]` (jobs carrying all of them).
CREATE INDEX idx_email_jobs_tags ON email_jobs USING GIN (tags);
