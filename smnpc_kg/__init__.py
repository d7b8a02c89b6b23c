"""smnpc-kg: an evidence knowledge graph for nasopharyngeal carcinoma with synchronous metastasis."""

__version__ = "0.1.0"
