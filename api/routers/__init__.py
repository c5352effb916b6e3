"""One router per user of the service."""
