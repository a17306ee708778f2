CREATE TABLE "Ünï;code" (名前 TEXT, [emoji 🎉;] TEXT);
INSERT INTO "Ünï;code" VALUES ('日本語; テキスト', 'ok');
