-- Pen pals: everyone who writes or receives letters.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    VARCHAR(64) NOT NULL UNIQUE,
    email       VARCHAR(255) NOT NULL,
    school_code VARCHAR(16),
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO users (id, username, email, school_code) VALUES
    (1, 'lin', 'lin@example.com', 'PKU'),
    (2, 'ana', 'ana@example.com', 'UNAM'),
    (3, 'sam', 'sam@example.com', NULL);
