"""Ingestion: dlt sources loaded into Iceberg tables (``pipeline``), with errors mapped once."""
