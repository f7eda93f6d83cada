-- Patient–practice messaging: the same tables, keys and semantics as
-- migrations/sqlite/0008_messaging.sql.

CREATE TABLE message_recipients (
    id      TEXT    NOT NULL,
    ods     TEXT    NOT NULL REFERENCES practices (ods),
    kind    TEXT    NOT NULL CHECK (kind IN ('Recipient', 'UnitRecipient')),
    name    TEXT    NOT NULL,
    enabled BOOLEAN NOT NULL,
    CONSTRAINT message_recipients_pkey PRIMARY KEY (id)
);

CREATE INDEX message_recipients_ods_idx ON message_recipients (ods);

-- seq orders messages sent in the same millisecond in the order they were stored.
CREATE TABLE messages (
    id              TEXT    NOT NULL,
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY,
    conversation_id TEXT    NOT NULL,
    patient_id      TEXT    NOT NULL REFERENCES patients (id),
    sent_at         BIGINT  NOT NULL,
    text            TEXT    NOT NULL,
    incoming        BOOLEAN NOT NULL,
    sender          TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    recipient_id    TEXT    NOT NULL REFERENCES message_recipients (id),
    sent_by         TEXT,
    read_at         BIGINT,
    deleted_at      BIGINT,
    CONSTRAINT messages_pkey PRIMARY KEY (id)
);

CREATE INDEX messages_patient_idx ON messages (patient_id, sent_at, seq);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, sent_at, seq);
CREATE INDEX messages_inbox_idx ON messages (recipient_id, sent_at) WHERE incoming;

CREATE TABLE message_attachments (
    message_id     TEXT    NOT NULL REFERENCES messages (id),
    position       INTEGER NOT NULL,
    binary_data_id TEXT    NOT NULL REFERENCES binary_data (id),
    CONSTRAINT message_attachments_pkey PRIMARY KEY (message_id, position),
    CONSTRAINT message_attachments_binary_data_id_key UNIQUE (binary_data_id)
);
