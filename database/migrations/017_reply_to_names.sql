-- A Reply-To's display name, beside its address: a tracked job or a campaign given
-- "Support <help@example.com>" went out with the address alone, since only the address had a
-- column. (A nullable column without a default: adding it rewrites nothing.)
ALTER TABLE email_jobs ADD COLUMN reply_to_name VARCHAR(255);
ALTER TABLE email_campaigns ADD COLUMN reply_to_name VARCHAR(255);
