-- Letters written and received per pen pal. Repeatable: edit it and the next run
-- applies it again, then museum_overview, which uses it.
DROP VIEW IF EXISTS museum_overview;
DROP VIEW IF EXISTS letter_stats;
CREATE VIEW letter_stats AS
SELECT u.id AS user_id,
       u.username,
       (SELECT count(*) FROM letters l WHERE l.sender_id = u.id AND l.deleted_at IS NULL) AS sent,
       (SELECT count(*) FROM letters l WHERE l.recipient_id = u.id AND l.deleted_at IS NULL) AS received
FROM users u;
