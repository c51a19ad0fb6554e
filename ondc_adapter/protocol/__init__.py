"""Pydantic models of ONDC retail 1.2.0 messages: the contract between the network and us.

JSON Schemas in the top-level ``schemas/`` folder are generated from these models
(``python -m ondc_adapter.protocol.schemas --write``); a test fails when they drift.
"""
