-- Recurring campaigns: on each occurrence of a cron schedule, a new campaign copied from a draft
-- (its content, options and audience) starts. next_run_at lives here, so a schedule keeps its
-- time across restarts, and the replica that moves it on is the one that starts the run.
CREATE TABLE email_campaign_schedules (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    -- The draft each run copies; deleting it deletes the schedule.
    blueprint_id UUID NOT NULL REFERENCES email_campaigns (id) ON DELETE CASCADE,
    cron VARCHAR(100) NOT NULL,
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    next_run_at TIMESTAMPTZ NOT NULL,
    last_run_at TIMESTAMPTZ,
    last_campaign_id UUID,
    runs BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_email_campaign_schedules_due ON email_campaign_schedules (next_run_at);

ALTER TABLE email_campaigns
    ADD COLUMN schedule_id UUID REFERENCES email_campaign_schedules (id) ON DELETE SET NULL;
