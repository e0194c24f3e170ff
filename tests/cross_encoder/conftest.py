"""Session fixtures for the cross-encoder tests: random cross-encoders of every family in both
saved forms, loaded once by tfst and once by sentence-transformers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cross_encoder_builders import SHAPES, build_classic_folder, build_modular_folder, pair_corpus

FORMS = ("classic", "modular")
CASES = [(shape, form) for shape in sorted(SHAPES) for form in FORMS]


@pytest.fixture(scope="session")
def pairs() -> list[tuple[str, str]]:
    return pair_corpus()


@pytest.fixture(scope="session")
def cross_encoder_folder(tmp_path_factory) -> Callable[[str, str], Path]:
    """``folder(shape, form)``: the folder of a ``SHAPES`` model in that form, built once."""
    root = tmp_path_factory.mktemp("cross_encoders")
    built: dict[tuple[str, str], Path] = {}

    def folder(shape: str, form: str) -> Path:
        if (shape, form) not in built:
            classic = root / shape / "classic"
            if not classic.is_dir():
                build_classic_folder(classic, SHAPES[shape])
            built[shape, "classic"] = classic
            if form == "modular":
                # The .bin variants are saved by sentence-transformers 6 as .bin too.
                built[shape, form] = build_modular_folder(
                    root / shape / "modular", classic, safetensors=SHAPES[shape].safetensors
                )
        return built[shape, form]

    return folder


@pytest.fixture(scope="session")
def loaded(cross_encoder_folder):
    """``loaded(shape, form)``: ``(tfst model, sentence-transformers model)``, each loaded once."""
    from sentence_transformers import CrossEncoder

    import tfst

    models: dict[tuple[str, str], tuple] = {}

    def load(shape: str, form: str):
        if (shape, form) not in models:
            folder = cross_encoder_folder(shape, form)
            models[shape, form] = (
                tfst.load_cross_encoder(folder),
                CrossEncoder(str(folder), device="cpu"),
            )
        return models[shape, form]

    return load


@pytest.fixture(scope="session", params=CASES, ids=[f"{shape}-{form}" for shape, form in CASES])
def case(request):
    """Every (shape, form)."""
    return request.param
