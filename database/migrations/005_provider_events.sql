-- Provider events (webhooks) land in email_tracking: each carries the provider's event id, so a
-- webhook delivered twice records once, and the time it happened, since events arrive out of order.
ALTER TABLE email_tracking
    ADD COLUMN event_id VARCHAR(255),
    ADD COLUMN occurred_at TIMESTAMPTZ;
CREATE UNIQUE INDEX idx_email_tracking_provider_event ON email_tracking (provider, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX idx_email_tracking_message_id ON email_tracking (message_id) WHERE message_id IS NOT NULL;
