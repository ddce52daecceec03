"""Data protection: the part a service declares (``part``: its data map, retention rules, right-of-access and
erasure answers), the vocabulary and checks of the map of where Skolit keeps personal data (``datamap``;
devkit/privacy_map.py collects the services' maps, checked against the real schemas by
tests/integration/test_privacy_datamap.py and rendered into docs/privacy.md), and the shared answers
(``export``, ``erasure``) and crypto (``vault``, ``sealedbox``)."""
