"""Dashboards and reports built on lifecircle results."""
