-- The museum of letters: letters that pen pals chose to exhibit.
CREATE TABLE exhibitions (
    id       INTEGER PRIMARY KEY,
    title    VARCHAR(200) NOT NULL,
    opens_on DATE NOT NULL
);

CREATE TABLE museum_items (
    id            INTEGER PRIMARY KEY,
    letter_id     INTEGER NOT NULL REFERENCES letters (id),
    exhibition_id INTEGER REFERENCES exhibitions (id),
    curator_id    INTEGER REFERENCES users (id),
    note          TEXT,
    exhibited_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO exhibitions (id, title, opens_on) VALUES (1, 'Letters across oceans', '2026-12-01');
INSERT INTO museum_items (id, letter_id, exhibition_id, curator_id, note)
    VALUES (1, 1, 1, 2, 'The first letter of the exchange');
