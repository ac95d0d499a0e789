-- Batches (SendGrid's batch_id): jobs sent with the same batch_id are listed, counted and cancelled
-- together. Only tracked jobs carry one: a batch is known through its jobs' rows.
ALTER TABLE email_jobs ADD COLUMN batch_id VARCHAR(100);
CREATE INDEX idx_email_jobs_batch ON email_jobs (batch_id, status) WHERE batch_id IS NOT NULL;
