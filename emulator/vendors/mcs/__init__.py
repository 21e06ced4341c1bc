"""MediaTek Cloud Sandbox (MCS) v2: registerDevice (mcs-registerDevice.md), its OAuth user
token service and the device companions get and deregister (REAL-CLIENTS.md §5)."""
