CREATE TABLE user_profiles (
    user_id  INTEGER PRIMARY KEY REFERENCES users (id),
    country  VARCHAR(64),
    bio      TEXT
);

INSERT INTO user_profiles (user_id, country) VALUES (1, 'China'), (2, 'Mexico');
