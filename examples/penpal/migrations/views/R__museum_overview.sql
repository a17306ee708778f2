-- What the museum shows, with how prolific each letter's writer is.
DROP VIEW IF EXISTS museum_overview;
CREATE VIEW museum_overview AS
SELECT m.id AS item_id,
       e.title AS exhibition,
       l.title AS letter,
       s.username AS writer,
       s.sent AS letters_written
FROM museum_items m
JOIN letters l ON l.id = m.letter_id
LEFT JOIN exhibitions e ON e.id = m.exhibition_id
JOIN letter_stats s ON s.user_id = l.sender_id;
