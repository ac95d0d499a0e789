-- Campaigns: one email to each recipient of an audience, dispatched onto the queue in slices, with
-- counts kept as counters (a poll never counts millions of rows).

CREATE TABLE email_campaigns (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    job_type VARCHAR(50) NOT NULL,
    -- draft → scheduled | running → paused ↔ running → completed | cancelled
    status VARCHAR(20) NOT NULL DEFAULT 'draft',
    -- A stored template, or the campaign's inline content stored as a template of its own: the
    -- content is kept once, not once per recipient.
    template_id VARCHAR(100) NOT NULL,
    subject VARCHAR(500),
    template_data JSONB NOT NULL DEFAULT '{}',
    from_email VARCHAR(255),
    from_name VARCHAR(255),
    reply_to VARCHAR(255),
    headers JSONB,
    provider VARCHAR(50),
    priority INTEGER NOT NULL DEFAULT -1,
    max_retries INTEGER NOT NULL DEFAULT 3,
    tags TEXT[] NOT NULL DEFAULT '{}',
    tracked BOOLEAN NOT NULL DEFAULT true,
    -- Emails per second for this campaign; NULL: as fast as the queue takes them.
    rate_limit DOUBLE PRECISION,
    scheduled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,

    -- The audience: recipients taken, merged into an earlier row of the same address, refused as
    -- invalid, and already suppressed when uploaded (never dispatched).
    total BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    invalid BIGINT NOT NULL DEFAULT 0,
    excluded BIGINT NOT NULL DEFAULT 0,
    -- Recipients turned into jobs on the queue; then how those jobs ended.
    dispatched BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    suppressed BIGINT NOT NULL DEFAULT 0,
    cancelled BIGINT NOT NULL DEFAULT 0,
    -- What providers reported afterwards, once per job each.
    delivered BIGINT NOT NULL DEFAULT 0,
    bounced BIGINT NOT NULL DEFAULT 0,
    complained BIGINT NOT NULL DEFAULT 0,
    opened BIGINT NOT NULL DEFAULT 0,
    clicked BIGINT NOT NULL DEFAULT 0,
    unsubscribed BIGINT NOT NULL DEFAULT 0,

    -- Dispatch: recipients below next_seq have been dispatched (or skipped as suppressed); with a
    -- rate limit, dispatch_credit emails may go now, refilled since credit_at.
    next_seq BIGINT NOT NULL DEFAULT 0,
    dispatch_credit DOUBLE PRECISION NOT NULL DEFAULT 0,
    credit_at TIMESTAMPTZ,
    -- Jobs finished per minute, for the rate: this minute's count (from window_start) and the last's.
    window_start TIMESTAMPTZ,
    window_count BIGINT NOT NULL DEFAULT 0,
    previous_window_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX idx_email_campaigns_created_at ON email_campaigns (created_at DESC, id DESC);
CREATE INDEX idx_email_campaigns_active ON email_campaigns (status, scheduled_at)
    WHERE status IN ('scheduled', 'running');

-- The audience, written once and read in order by dispatch. seq orders the recipients; an upload
-- holds its campaign's row lock while it inserts, so dispatch never passes a seq still uncommitted.
CREATE TABLE email_campaign_recipients (
    campaign_id UUID NOT NULL REFERENCES email_campaigns (id) ON DELETE CASCADE,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    email VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    template_data JSONB,
    -- On the suppression list when uploaded: counted, never dispatched.
    suppressed BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, seq)
);
-- One email per address per campaign, whatever its case.
CREATE UNIQUE INDEX idx_email_campaign_recipients_address
    ON email_campaign_recipients (campaign_id, lower(email));

ALTER TABLE email_jobs ADD COLUMN campaign_id UUID REFERENCES email_campaigns (id) ON DELETE SET NULL;
CREATE INDEX idx_email_jobs_campaign ON email_jobs (campaign_id, status) WHERE campaign_id IS NOT NULL;

-- Adds to a campaign's outcome counters and its per-minute window of finished jobs. One function
-- for the trigger below and for anything else that counts outcomes.
CREATE FUNCTION email_campaign_count(
    campaign UUID, d_sent BIGINT, d_failed BIGINT, d_suppressed BIGINT, d_cancelled BIGINT
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    finished BIGINT := GREATEST(d_sent, 0) + GREATEST(d_failed, 0) + GREATEST(d_suppressed, 0);
BEGIN
    UPDATE email_campaigns SET
        sent = sent + d_sent,
        failed = failed + d_failed,
        suppressed = suppressed + d_suppressed,
        cancelled = cancelled + d_cancelled,
        previous_window_count = CASE
            WHEN window_start IS NULL OR now() >= window_start + interval '120 seconds' THEN 0
            WHEN now() >= window_start + interval '60 seconds' THEN window_count
            ELSE previous_window_count END,
        window_count = CASE
            WHEN window_start IS NULL OR now() >= window_start + interval '60 seconds' THEN finished
            ELSE window_count + finished END,
        window_start = CASE
            WHEN window_start IS NULL OR now() >= window_start + interval '120 seconds' THEN now()
            WHEN now() >= window_start + interval '60 seconds' THEN window_start + interval '60 seconds'
            ELSE window_start END,
        updated_at = now()
    WHERE id = campaign;
END $$;

-- A campaign job's status change moves its campaign's counters, in the same transaction: the
-- counts agree with the jobs whichever statement changed them.
CREATE FUNCTION email_jobs_count_campaign_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_sent BIGINT := (NEW.status = 'sent')::int - (OLD.status = 'sent')::int;
    d_failed BIGINT := (NEW.status = 'failed')::int - (OLD.status = 'failed')::int;
    d_suppressed BIGINT := (NEW.status = 'suppressed')::int - (OLD.status = 'suppressed')::int;
    d_cancelled BIGINT := (NEW.status = 'cancelled')::int - (OLD.status = 'cancelled')::int;
BEGIN
    IF d_sent <> 0 OR d_failed <> 0 OR d_suppressed <> 0 OR d_cancelled <> 0 THEN
        PERFORM email_campaign_count(NEW.campaign_id, d_sent, d_failed, d_suppressed, d_cancelled);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER email_jobs_campaign_outcome
    AFTER UPDATE OF status ON email_jobs
    FOR EACH ROW
    WHEN (NEW.campaign_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status
          AND (NEW.status IN ('sent', 'failed', 'suppressed', 'cancelled')
               OR OLD.status IN ('sent', 'failed', 'suppressed', 'cancelled')))
    EXECUTE FUNCTION email_jobs_count_campaign_outcome();

-- A provider event on a campaign job counts once per job and kind (a second open is not counted).
CREATE FUNCTION email_tracking_count_campaign_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    campaign UUID;
    kind TEXT := CASE WHEN NEW.status IN ('bounced_hard', 'bounced_soft') THEN 'bounced' ELSE NEW.status END;
BEGIN
    SELECT campaign_id INTO campaign FROM email_jobs WHERE id = NEW.job_id;
    IF campaign IS NULL THEN
        RETURN NULL;
    END IF;
    IF EXISTS (
        SELECT 1 FROM email_tracking t
        WHERE t.job_id = NEW.job_id AND t.id <> NEW.id
          AND (t.status = NEW.status OR (kind = 'bounced' AND t.status IN ('bounced_hard', 'bounced_soft')))
    ) THEN
        RETURN NULL;
    END IF;
    UPDATE email_campaigns SET
        delivered = delivered + (kind = 'delivered')::int,
        bounced = bounced + (kind = 'bounced')::int,
        complained = complained + (kind = 'complained')::int,
        opened = opened + (kind = 'opened')::int,
        clicked = clicked + (kind = 'clicked')::int,
        unsubscribed = unsubscribed + (kind = 'unsubscribed')::int
    WHERE id = campaign;
    RETURN NULL;
END $$;

CREATE TRIGGER email_tracking_campaign_event
    AFTER INSERT ON email_tracking
    FOR EACH ROW
    WHEN (NEW.job_id IS NOT NULL AND NEW.status IN
          ('delivered', 'bounced_hard', 'bounced_soft', 'complained', 'opened', 'clicked', 'unsubscribed'))
    EXECUTE FUNCTION email_tracking_count_campaign_event();
