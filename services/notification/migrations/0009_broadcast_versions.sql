-- Broadcasts a sender can follow: the versions in other languages than Swedish (subject and body stay the Swedish,
-- which is also what a recipient whose language has no version gets), and a sender's own list, newest first.
ALTER TABLE broadcast ADD COLUMN translations jsonb NOT NULL DEFAULT '{}';
CREATE INDEX broadcast_sender ON broadcast (sender, created_at DESC);
CREATE INDEX broadcast_created ON broadcast (created_at DESC);
