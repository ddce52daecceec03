"""Catalog: the programbank — apps and learning resources, licences, data protection, requests."""
