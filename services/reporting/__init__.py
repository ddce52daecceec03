"""Reporting: follow-up across schools, districts and years, from read models built from events."""
