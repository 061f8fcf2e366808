"""Customers (people and companies) and their contracts, which link them to tokens."""
