"""Session fixtures for the integration tests: real protocol servers on 127.0.0.1."""
