"""EnOS APIM token service: get and refresh an access token (REAL-CLIENTS.md §1.3)."""
