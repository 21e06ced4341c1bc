"""Envision EnOS: the connection service (create device) and device provisioning (DPS)."""
