"""Lockdown scenarios for researchers: scenarios, outbreak drivers, runs, metrics, sweeps."""
