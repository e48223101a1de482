"""The whole pipeline from one YAML configuration."""
