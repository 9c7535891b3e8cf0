"""Output that reads like the docker CLI's: tables, JSON and Go templates (``--format``)."""
