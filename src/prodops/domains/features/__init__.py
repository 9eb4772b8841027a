"""The catalogue of features and ideas: statuses per product, votes, subscribers, merges."""
