"""What the API derives from the catalog (`flowscope.storage.catalog`, reached as
`store.catalog`) beyond its rows."""
