"""The ``sql_database`` sink: tables of any SQLAlchemy database; settings, writers, errors."""
