"""The ranges every integer of a request is checked against at the edge.

A number reaches a database column (SQLite's integers and PostgreSQL's BIGINT are 64-bit
signed, INTEGER 32-bit) or a vendor's Java ``Integer``; one past the range must be refused as
the caller's mistake (the vendor's parameter code, the control plane's 400), never reach the
driver and come back as a server error.
"""

from __future__ import annotations

# A Java int: the vendors' paging numbers, and the INTEGER columns.
INT32_MAX = 2**31 - 1
# SQLite's integers and PostgreSQL's BIGINT: offsets, ids, times in ms.
INT64_MAX = 2**63 - 1
# The longest a fault may live: a rule's expiry (ms on the emulator clock) stays a BIGINT
# whatever the clock reads (a clock never passes 9999-12-31, 2.5e14 ms).
MAX_TTL_SECONDS = 10**12
