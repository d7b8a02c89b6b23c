"""The project's foundations: its exceptions, its vocabulary and prefix map, and safe reading of user files."""
