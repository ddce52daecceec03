"""Skolit's shared package: event contracts and the infrastructure every service uses."""
