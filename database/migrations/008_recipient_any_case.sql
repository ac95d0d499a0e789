-- Mailbox names are matched without regard to case (clients write Ada@Example.org and
-- ada@example.org for the same person), so listing jobs by recipient compares lower-cased
-- addresses; the index follows the comparison.
CREATE INDEX idx_email_jobs_recipient_email_lower ON email_jobs (lower(recipient_email));
DROP INDEX idx_email_jobs_recipient_email;
