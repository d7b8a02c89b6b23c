"""The SPARQL 1.1 Protocol endpoint: the application, its workers, what a request asks for, the query page."""
