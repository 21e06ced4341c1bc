"""Acme: a vendor that exists only in the tests. It proves the vendor contract
(docs/adding-a-vendor.md): one folder and one registration give it the journal, faults,
OpenAPI, conformance, coverage, fixtures, state export/import and the dashboard's lists."""
