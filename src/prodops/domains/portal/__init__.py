"""Customer ideas portal: portals, boards, ideas, votes, comments, follows, moderation, public roadmap and changelog."""
