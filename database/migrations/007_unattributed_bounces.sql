-- Messages the bounce listener accepted but could not turn into an event: not a bounce, no status
-- code, or no job to attach it to. They are kept, not dropped, so an operator can read what came
-- back (raw holds at most the first part of the message; raw_bytes is its full size).
CREATE TABLE email_unattributed_bounces (
    id BIGSERIAL PRIMARY KEY,
    reason VARCHAR(50) NOT NULL,
    details TEXT,
    mail_from VARCHAR(320),
    rcpt_to TEXT NOT NULL,
    remote_address VARCHAR(64),
    raw BYTEA NOT NULL,
    raw_bytes INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_email_unattributed_bounces_received_at ON email_unattributed_bounces (received_at DESC, id);
