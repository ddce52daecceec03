"""The city's school data as Skolit receives it: replicas, the demo city and the publishing CLI."""
