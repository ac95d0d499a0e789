-- Fleet-wide throughput history for the operator console: emails sent and failed per minute. Each
-- replica adds what its own workers finished since its last sample to the row of that minute, so
-- the rows hold the whole fleet's counts whichever replica reads them. Rows older than a day are
-- pruned; the primary key is all that reads (the last hour) and pruning need.
CREATE TABLE email_throughput_minutes (
    minute TIMESTAMPTZ PRIMARY KEY,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0
);
