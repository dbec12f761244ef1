"""Service: command-line interface, and (later) the Flask API and web page."""
