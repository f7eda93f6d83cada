-- Patient–practice messaging: the practices' recipients, the messages, and the attachments of
-- each message (the files themselves are binaries of the message's patient in the
-- binary-data store, written in the same transaction as the message).

CREATE TABLE message_recipients (
    id      TEXT    NOT NULL PRIMARY KEY,
    ods     TEXT    NOT NULL REFERENCES practices (ods),
    kind    TEXT    NOT NULL CHECK (kind IN ('Recipient', 'UnitRecipient')),
    name    TEXT    NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT;

CREATE INDEX message_recipients_ods_idx ON message_recipients (ods);

-- The rowid orders messages sent in the same millisecond in the order they were stored.
-- read_at is the reader's: the practice's for an incoming message, the patient's otherwise.
CREATE TABLE messages (
    id              TEXT    NOT NULL PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    patient_id      TEXT    NOT NULL REFERENCES patients (id),
    sent_at         INTEGER NOT NULL,
    text            TEXT    NOT NULL,
    incoming        INTEGER NOT NULL CHECK (incoming IN (0, 1)),
    sender          TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    recipient_id    TEXT    NOT NULL REFERENCES message_recipients (id),
    sent_by         TEXT,
    read_at         INTEGER,
    deleted_at      INTEGER
) STRICT;

-- patient_messages and unread_message_count.
CREATE INDEX messages_patient_idx ON messages (patient_id, sent_at);
-- conversation.
CREATE INDEX messages_conversation_idx ON messages (conversation_id, sent_at);
-- practice_inbox: patients' messages to a recipient.
CREATE INDEX messages_inbox_idx ON messages (recipient_id, sent_at) WHERE incoming = 1;

-- The files are binaries of the message's patient (binary_data, kind 'Attachment'); their
-- names, types and sizes are read from there.
CREATE TABLE message_attachments (
    message_id     TEXT    NOT NULL REFERENCES messages (id),
    position       INTEGER NOT NULL,
    binary_data_id TEXT    NOT NULL UNIQUE REFERENCES binary_data (id),
    PRIMARY KEY (message_id, position)
) STRICT, WITHOUT ROWID;
