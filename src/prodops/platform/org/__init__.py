"""Organisation structure: products (product lines) and teams; every domain scopes its records to them."""
