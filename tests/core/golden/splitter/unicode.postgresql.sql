-- Ünïcödé comment; ça va
CREATE TABLE café (naïve text DEFAULT 'crème; brûlée', "日本;語" int);
INSERT INTO café VALUES ('emoji 🎉; party', 1);
SELECT $é$ dollar; quoted $é$, größe FROM café;
