-- Every exhibited letter exists (a foreign key says so too; this also catches rows
-- written while constraints were off).
SELECT m.id FROM museum_items m LEFT JOIN letters l ON l.id = m.letter_id WHERE l.id IS NULL;
