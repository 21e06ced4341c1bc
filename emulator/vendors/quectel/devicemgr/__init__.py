"""Quectel Developer Center SaaS OpenAPI: the device manager (devicemgr-createBatch.md), its
companions (single create, detail, overview, delete, products) and the accessKey token
service (REAL-CLIENTS.md §3)."""
