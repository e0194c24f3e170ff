"""Every encoder family tfst loads, keyed by ``config.json``'s ``model_type``: the only list of them."""

from __future__ import annotations

from pathlib import Path

from tfst.config import ConfigError
from tfst.models import bert, distilbert, mpnet, roberta, xlm_roberta
from tfst.models.family import Family

FAMILIES: dict[str, Family] = {
    family.model_type: family
    for family in (
        bert.FAMILY,
        distilbert.FAMILY,
        mpnet.FAMILY,
        roberta.FAMILY,
        xlm_roberta.FAMILY,
    )
}


def family_for(model_type: object, path: Path | str) -> Family:
    """The family of a ``model_type``; a ConfigError naming ``path`` and the supported ones."""
    if model_type not in FAMILIES:
        raise ConfigError(
            f"{path}: model_type {model_type!r:.80} is not supported; supported are "
            + ", ".join(sorted(FAMILIES))
        )
    return FAMILIES[model_type]


def family_of(encoder) -> Family:
    """The family an encoder layer belongs to: its class, and the constants of its family (RoBERTa
    and XLM-R share one class, told apart by the ``model_type`` the layer was read as)."""
    config = encoder.get_config()
    for family in FAMILIES.values():
        if type(encoder) is family.encoder_class and all(
            config.get(name) == value for name, value in family.constants.items()
        ):
            return family
    raise TypeError(f"{type(encoder).__name__} is not the encoder of a registered family")
