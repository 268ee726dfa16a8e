"""The store classes both SQL backends share (one per Protocol in `server.store.interfaces`), the schema
in both dialects (`migrations`), and the `Database` shape a backend provides to run them."""
