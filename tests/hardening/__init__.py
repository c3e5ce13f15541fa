"""Shared kit for the hardening tests: bad-audio generators and one shared hostile night."""
