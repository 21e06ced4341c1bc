"""Vendor-neutral machinery: errors, routing, database, registry, ids, clock, fixtures."""
