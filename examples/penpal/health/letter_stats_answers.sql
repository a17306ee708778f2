-- The statistics view answers, and every pen pal is in it.
SELECT (SELECT count(*) FROM letter_stats) = (SELECT count(*) FROM users);
