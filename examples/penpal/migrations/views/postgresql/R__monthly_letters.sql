-- A materialized view (PostgreSQL): the optimize phase refreshes it, CONCURRENTLY once
-- it has a unique index and data.
DROP MATERIALIZED VIEW IF EXISTS monthly_letters;
CREATE MATERIALIZED VIEW monthly_letters AS
SELECT date_trunc('month', coalesce(sent_at, now())) AS month, status, count(*) AS letters
FROM letters
WHERE deleted_at IS NULL
GROUP BY 1, 2;
CREATE UNIQUE INDEX monthly_letters_key ON monthly_letters (month, status);
