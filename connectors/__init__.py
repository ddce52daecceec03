"""The city's side of Skolit: processes that bring the city's data in as city events (SS 12000 school data,
figures and app usage). One process, ``python -m connectors.ss12000``, with its own schema ``connector``."""
