"""Product analytics: usage events from Segment- and PostHog-compatible trackers, the warehouse, insights, metrics and dashboards."""
