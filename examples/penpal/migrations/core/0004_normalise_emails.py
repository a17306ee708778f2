"""A data migration in Python: lower-case every e-mail address, keeping the old ones
so that down() can restore them exactly."""


def up(ctx):
    ctx.execute("CREATE TABLE email_backup (user_id INTEGER PRIMARY KEY, email VARCHAR(255))")
    ctx.execute("INSERT INTO email_backup (user_id, email) SELECT id, email FROM users")
    mark = ctx.paramstyle
    for user_id, email in ctx.query("SELECT id, email FROM users"):
        ctx.execute(f"UPDATE users SET email = {mark} WHERE id = {mark}", (email.lower(), user_id))


def down(ctx):
    ctx.execute("UPDATE users SET email = (SELECT email FROM email_backup "
                "WHERE email_backup.user_id = users.id)")
    ctx.execute("DROP TABLE email_backup")
