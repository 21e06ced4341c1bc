"""EnOS device provisioning service (DPS) v2.5: pvs/device (enos-dps-allocate.md)."""
