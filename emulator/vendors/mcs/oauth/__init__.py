"""MCS OAuth for third-party services: the user token and its access token
(REAL-CLIENTS.md §5; MCS docs "Get User Token", "Refresh User Access Token")."""
