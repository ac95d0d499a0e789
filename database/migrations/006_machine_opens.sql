-- Opens that were probably a machine (a mail provider's image proxy, a security scanner) are kept
-- but flagged, so open rates can be read with or without them.
ALTER TABLE email_tracking ADD COLUMN machine_open BOOLEAN;
