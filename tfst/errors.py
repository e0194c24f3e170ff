"""The error every refused configuration raises, shared by the model and tokenizer readers."""


class ConfigError(ValueError):
    """A configuration file is missing a value, holds an unsupported one, or is not valid JSON."""
