"""The dashboard: its routes, and end-to-end tests in a real headless Chromium."""
