"""The city's school data as Skolit receives it: the replicas each service keeps and the protected-identity
markings. The demo city and the publishing CLI (skolit-city) are development tooling, in devkit/."""
