"""Business domains, one package each; see ARCHITECTURE.md for the tiers."""
