-- The postgres queue driver, idempotency keys, and what the reconciler needs to find lost messages.

-- One row per queued message. `lane` is the job's priority (2 critical … -1 low). A fetched row is
-- leased until `locked_until`; a worker that dies simply lets the lease run out.
CREATE TABLE email_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lane SMALLINT NOT NULL,
    body TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    locked_until TIMESTAMPTZ,
    deliveries INTEGER NOT NULL DEFAULT 0,
    dead BOOLEAN NOT NULL DEFAULT false,
    reason TEXT,
    failed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_email_queue_ready ON email_queue (lane DESC, run_at, id) WHERE NOT dead;
CREATE INDEX idx_email_queue_dead ON email_queue (failed_at DESC, id DESC) WHERE dead;

-- Idempotency keys of the fast path in postgres mode (Redis keeps them itself): the same key within
-- their lifetime maps to the same job and never sends a second email.
CREATE TABLE email_idempotency_keys (
    key VARCHAR(255) PRIMARY KEY,
    job_id UUID NOT NULL,
    state VARCHAR(10) NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_email_idempotency_keys_expires_at ON email_idempotency_keys (expires_at);

-- When the job's queue message was published (NULL: created but not yet on the queue), and when a
-- retrying job is due again. The reconciler republishes jobs whose message was evidently lost.
ALTER TABLE email_jobs
    ADD COLUMN enqueued_at TIMESTAMPTZ,
    ADD COLUMN next_attempt_at TIMESTAMPTZ;
CREATE INDEX idx_email_jobs_unpublished ON email_jobs (created_at) WHERE status = 'pending' AND enqueued_at IS NULL;
CREATE INDEX idx_email_jobs_retry_due ON email_jobs (next_attempt_at) WHERE status = 'retrying';
