"""ProdOps: a self-hosted product operations platform."""
