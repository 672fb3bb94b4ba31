"""Triggers that wait in the triggerer, so a deferred task holds no worker slot."""
