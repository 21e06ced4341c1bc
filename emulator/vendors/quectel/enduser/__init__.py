"""Quectel end-user (App) OpenAPI: batchControlDevice (enduser-batchControlDevice.md), its token
service (emailPwdLogin, refreshToken) and the userDeviceList companion (REAL-CLIENTS.md §4)."""
