"""The knowledge graph on disk: building it from the evidence files, publishing and checking dist/, auditing, exporting."""
