CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL
);

CREATE INDEX users_email_idx ON users (email);
ALTER TABLE users ADD COLUMN name text; ALTER TABLE users ADD COLUMN age int;


   INSERT INTO users (email) VALUES ('a@example.com')   ;
