"""Prompts as sentence-transformers resolves them: the text a call prepends, checked first."""

from __future__ import annotations

import logging

from tfst.messages import capped_listing
from tfst.text_checks import utf8_problem

logger = logging.getLogger(__name__)


def check_prompt(text: object, what: str, optional: bool = False) -> None:
    """A prompt must be a str with a UTF-8 form (None too, if ``optional``); TensorFlow would
    otherwise fail on it with a conversion error that names nothing."""
    if optional and text is None:
        return
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}: {text!r:.80}")
    if problem := utf8_problem(text):
        raise ValueError(f"{what} has no UTF-8 form: it holds {problem}")


def resolve_prompt(
    prompts: dict[str, str],
    default_prompt_name: str | None,
    prompt: str | None,
    prompt_name: str | None,
) -> str | None:
    """The prompt text a call uses, as sentence-transformers picks it: ``prompt``, else the
    text of ``prompt_name`` (which must be one of ``prompts``), else the default prompt's."""
    if prompt is not None:
        check_prompt(prompt, "prompt")
        if prompt_name is not None:
            logger.warning("both prompt and prompt_name given; using prompt")
        return prompt
    if prompt_name is not None:
        if prompt_name not in prompts:
            raise ValueError(
                f"prompt_name {prompt_name!r:.100} is not one of the prompts "
                f"[{capped_listing(map(repr, prompts))}]"
            )
        return prompts[prompt_name]
    if default_prompt_name is not None:
        return prompts.get(default_prompt_name)
    return None
