-- What the Go service's schema lacks for the full job (every field of the wire format) and for safe claiming.

-- Timestamps become timestamptz: a TIMESTAMP's meaning depends on each reader's session time zone.
-- Existing values were written by NOW() on UTC servers (the Go service's deployment), so read them as UTC.
ALTER TABLE email_jobs
    ALTER COLUMN scheduled_at TYPE TIMESTAMPTZ USING scheduled_at AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ USING updated_at AT TIME ZONE 'UTC';
ALTER TABLE email_templates
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ USING updated_at AT TIME ZONE 'UTC';
ALTER TABLE email_tracking
    ALTER COLUMN sent_at TYPE TIMESTAMPTZ USING sent_at AT TIME ZONE 'UTC',
    ALTER COLUMN delivered_at TYPE TIMESTAMPTZ USING delivered_at AT TIME ZONE 'UTC',
    ALTER COLUMN opened_at TYPE TIMESTAMPTZ USING opened_at AT TIME ZONE 'UTC',
    ALTER COLUMN clicked_at TYPE TIMESTAMPTZ USING clicked_at AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at AT TIME ZONE 'UTC';

-- Columns the Go schema gave a default but allowed to be NULL: backfill, then forbid NULL, so every
-- reader can rely on them.
UPDATE email_jobs SET status = COALESCE(status, 'pending'), priority = COALESCE(priority, 0),
    retry_count = COALESCE(retry_count, 0), max_retries = COALESCE(max_retries, 3),
    created_at = COALESCE(created_at, NOW()), updated_at = COALESCE(updated_at, NOW())
WHERE status IS NULL OR priority IS NULL OR retry_count IS NULL OR max_retries IS NULL
    OR created_at IS NULL OR updated_at IS NULL;
ALTER TABLE email_jobs
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN priority SET NOT NULL,
    ALTER COLUMN retry_count SET NOT NULL,
    ALTER COLUMN max_retries SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL;

UPDATE email_templates SET is_active = COALESCE(is_active, true),
    created_at = COALESCE(created_at, NOW()), updated_at = COALESCE(updated_at, NOW())
WHERE is_active IS NULL OR created_at IS NULL OR updated_at IS NULL;
ALTER TABLE email_templates
    ALTER COLUMN is_active SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL;

UPDATE email_tracking SET created_at = NOW() WHERE created_at IS NULL;
ALTER TABLE email_tracking ALTER COLUMN created_at SET NOT NULL;

-- The rest of the wire format, so a tracked job can be sent from its row alone.
ALTER TABLE email_jobs
    ADD COLUMN recipient_name VARCHAR(255),
    ADD COLUMN from_email VARCHAR(320),
    ADD COLUMN from_name VARCHAR(255),
    ADD COLUMN reply_to VARCHAR(320),
    ADD COLUMN headers JSONB,
    ADD COLUMN html_body TEXT,
    ADD COLUMN text_body TEXT,
    ADD COLUMN attachments JSONB,
    ADD COLUMN provider VARCHAR(50),
    ADD COLUMN idempotency_key VARCHAR(255),
    ADD COLUMN metadata JSONB,
    -- Last failure, for operators and for the dead-letter entry.
    ADD COLUMN error_message TEXT,
    -- A worker's claim: the job is 'processing' until then; after it, another worker may take it over.
    ADD COLUMN locked_until TIMESTAMPTZ,
    ADD COLUMN sent_at TIMESTAMPTZ;

-- Keyset pagination walks (created_at, id) newest first.
CREATE INDEX idx_email_jobs_created_at_id ON email_jobs(created_at DESC, id DESC);
CREATE INDEX idx_email_jobs_recipient_email ON email_jobs(recipient_email);
CREATE INDEX idx_email_jobs_job_type ON email_jobs(job_type);
CREATE INDEX idx_email_jobs_idempotency_key ON email_jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The reconciler looks for expired claims.
CREATE INDEX idx_email_jobs_locked_until ON email_jobs(locked_until) WHERE status = 'processing';
-- Latest event per job.
CREATE INDEX idx_email_tracking_job_id_created_at ON email_tracking(job_id, created_at DESC);
