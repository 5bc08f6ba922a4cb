"""Reference solutions (instructor-only). Release notebooks never import this package."""
