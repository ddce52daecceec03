"""Data protection: the map of where Skolit keeps personal data (``datamap``), checked against the
real schemas by tests/integration/test_privacy_datamap.py and rendered into docs/privacy.md."""
