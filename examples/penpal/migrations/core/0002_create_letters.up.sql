-- Letters between pen pals. A letter is a draft until it is sent.
CREATE TABLE letters (
    id           INTEGER PRIMARY KEY,
    sender_id    INTEGER NOT NULL REFERENCES users (id),
    recipient_id INTEGER REFERENCES users (id),
    title        VARCHAR(200) NOT NULL,
    body         TEXT NOT NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'draft',
    sent_at      TIMESTAMP,
    deleted_at   TIMESTAMP
);

CREATE INDEX letters_sender ON letters (sender_id);

INSERT INTO letters (id, sender_id, recipient_id, title, body, status) VALUES
    (1, 1, 2, 'Hello from Beijing', 'Dear Ana; the snow came early this year...', 'sent'),
    (2, 2, 1, 'Re: Hello', 'Querida Lin -- it is 30 degrees here!', 'sent'),
    (3, 3, NULL, 'To a stranger', 'Whoever reads this: ''hello''.', 'draft');
