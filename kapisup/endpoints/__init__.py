"""What API handlers share: request info, Status errors."""
