"""The ports in SQLAlchemy Core, the same statements on every backend; a backend module
supplies the engine, the transaction, the upsert and how writes are sent."""
