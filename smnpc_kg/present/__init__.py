"""What people read: tables of query results, the pathway diagram and the forest plot."""
