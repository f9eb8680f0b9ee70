"""Users, authenticators and authorizers."""
