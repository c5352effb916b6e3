"""kst-match: neighbourhood resource matching and volunteer scheduling for support hubs."""

__version__ = "0.1.0"
