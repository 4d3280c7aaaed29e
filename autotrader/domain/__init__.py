"""Domain values: ids, enums, frozen models and reports."""
