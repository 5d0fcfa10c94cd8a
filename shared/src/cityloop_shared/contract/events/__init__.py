"""One pydantic model per case event type, grouped by the stage that emits it."""
