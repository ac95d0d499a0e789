-- The request an idempotency key was first used for, as a hash: the same key sent again with a
-- different request is refused naming the first job, instead of silently answering with it. Empty
-- for keys reserved by a worker (jobs published straight to the queue).
ALTER TABLE email_idempotency_keys ADD COLUMN fingerprint VARCHAR(64);
