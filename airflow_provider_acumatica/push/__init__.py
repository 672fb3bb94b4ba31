"""Acumatica push notifications: the payload, the spool between receiver and trigger, the webhook receiver."""
