"""Infrastructure every layer may use.

Settings, logging, metrics, the payload converter and codec, keys and the key store, the
Temporal client, the sandbox runner and the embedded HTTP server. It imports only `cases`
and libraries (docs/design.md, "Packages and layers").
"""
