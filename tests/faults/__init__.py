"""Durability and fault suite: crash harness, power-loss simulation, disk faults, hostile
clients, security defaults. ``python -m tests.faults.harness`` runs the long version."""
