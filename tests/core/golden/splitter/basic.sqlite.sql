CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE UNIQUE INDEX users_email ON users (email);

INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');
