"""Portal reads (never commit): public pages in :mod:`.public`."""
