"""The ``rest_api`` sink: JSON over HTTP(S); settings, client, encoders and error mapping."""
