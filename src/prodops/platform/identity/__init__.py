"""Identity and access: users and roles, passwords, sessions, API tokens, password reset."""
