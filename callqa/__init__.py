"""callqa's command line: the one place that wires the library, the flows and the review app."""
