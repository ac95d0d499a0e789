-- Untracked campaigns: their jobs travel whole on the queue, with no email_jobs row. What became of
-- each recipient is kept on the recipient's own row instead: NULL while dispatched (or not yet),
-- 'parked' while put aside by a paused campaign, then how it ended. A recipient's outcome is set
-- once (parked is the only state it leaves), so a redelivered job is never counted twice.
ALTER TABLE email_campaign_recipients ADD COLUMN outcome VARCHAR(12)
    CHECK (outcome IN ('parked', 'sent', 'failed', 'suppressed', 'cancelled'));

-- Resuming a campaign (and every dispatch pass) looks for parked recipients: few, usually none.
CREATE INDEX idx_email_campaign_recipients_parked ON email_campaign_recipients (campaign_id, seq)
    WHERE outcome = 'parked';
