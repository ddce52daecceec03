"""Skolit's four services. None imports another: they share only ``shared`` and Kafka events."""
