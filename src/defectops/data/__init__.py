"""Production records in: reading files, the data contract (schema, validation, quarantine), the
hold-out rule, the batch store and the line simulator."""
