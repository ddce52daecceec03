-- What each recipient wants: per message type and channel instant, daily digest or off; language and
-- quiet hours per person. Absent rows mean the defaults (services/notification/domain.py).
CREATE TABLE preference (
    person        uuid NOT NULL,
    message_type  text NOT NULL,
    channel       text NOT NULL,
    mode          text NOT NULL CHECK (mode IN ('instant', 'digest', 'off')),
    PRIMARY KEY (person, message_type, channel)
);

CREATE TABLE recipient_setting (
    person       uuid PRIMARY KEY,
    language     text NOT NULL DEFAULT 'sv',
    quiet_start  time NOT NULL DEFAULT '21:00',
    quiet_end    time NOT NULL DEFAULT '07:00',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
