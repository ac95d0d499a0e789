-- Addresses no email may be sent to: hard bounces, complaints, unsubscribes, or added by an operator.
-- Stored lower-cased; a job to a suppressed address ends as 'suppressed' without a provider call.
CREATE TABLE email_suppressions (
    email VARCHAR(320) PRIMARY KEY,
    reason VARCHAR(50) NOT NULL,
    source VARCHAR(100) NOT NULL,
    details TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_email_suppressions_created_at ON email_suppressions (created_at DESC, email);
