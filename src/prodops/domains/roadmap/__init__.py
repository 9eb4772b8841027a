"""Strategy and roadmap: goals and key results, initiatives, scored features, roadmap views and the alignment report."""
