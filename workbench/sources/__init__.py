"""One module per data source: demo (synthetic region), cbs (KWB statistics), pdok (geometry), records (care records)."""
