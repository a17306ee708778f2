CREATE TABLE scores (id INTEGER PRIMARY KEY, points INTEGER, grade TEXT, "end" INTEGER);
CREATE TEMP TRIGGER IF NOT EXISTS scores_grade AFTER INSERT ON scores
WHEN NEW.points IS NOT NULL
BEGIN
    UPDATE scores SET grade = CASE
        WHEN NEW.points >= 90 THEN 'A'
        WHEN NEW.points >= 80 THEN CASE WHEN NEW.points >= 85 THEN 'B+' ELSE 'B' END
        ELSE 'C'
    END WHERE id = NEW.id;
    UPDATE scores SET end = 1 WHERE id = NEW.id;
    SELECT CASE WHEN 1 THEN 2 END;
end;
INSERT INTO scores (points) VALUES (87);
SELECT grade FROM scores;
