"""Where queries run: the embedded pyoxigraph store over a build, or a remote SPARQL 1.1 endpoint."""
