"""Command-line tools: `acumatica-oauth` for the one-time authorization-code consent."""
