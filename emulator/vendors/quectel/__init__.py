"""Quectel: the Developer Center SaaS OpenAPI (device manager) and the end-user App OpenAPI."""
