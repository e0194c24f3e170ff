"""Router against sentence-transformers: routes by task (encode_query, encode_document, task=),
route_mappings, shared modules, the per-route export signatures and save_pretrained."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from module_builders import assert_same_embeddings, reference
from saved_model_checks import serve_in_fresh_process

import tfst
from tfst import hub
from tfst.config import ConfigError
from tfst.modules import Module, Router, StaticEmbedding, Transformer


@pytest.fixture(scope="session")
def query_document_pair(query_document_router_folder):
    folder = query_document_router_folder
    return tfst.load(folder), reference(folder)


@pytest.fixture(scope="session")
def mapped_pair(mapped_router_folder):
    return tfst.load(mapped_router_folder), reference(mapped_router_folder)


def test_query_and_document_routes_match_sentence_transformers(query_document_pair, texts):
    model, expected = query_document_pair
    assert len(texts) >= 200
    assert_same_embeddings(model.encode_query(texts), expected.encode_query(texts))
    assert_same_embeddings(model.encode_document(texts), expected.encode_document(texts))
    assert_same_embeddings(model.encode(texts), expected.encode(texts))


def test_routes_are_the_expected_modules(query_document_pair):
    model = query_document_pair[0]
    router = model[0]
    assert isinstance(router, Router) and router.default_route == "document"
    assert [type(module) for module in model.modules_for_task("query")][:1] == [StaticEmbedding]
    assert isinstance(model.modules_for_task(None)[0], Transformer)
    assert model.get_embedding_dimension() == 32


def test_task_argument_and_prompts_pick_as_sentence_transformers_does(query_document_pair, texts):
    model, expected = query_document_pair
    sample = texts[:40]
    for arguments in (
        {"task": "query"},
        {"task": "document", "prompt": "search: "},
        {"task": "query", "prompt_name": "document"},
        {"prompt_name": "query"},
        {"task": "query", "normalize_embeddings": True, "truncate_dim": 6},
    ):
        actual = model.encode(sample, **arguments)
        assert_same_embeddings(actual, expected.encode(sample, **arguments))


def test_route_mappings_and_shared_modules_match_sentence_transformers(mapped_pair, texts):
    model, expected = mapped_pair
    router = model[0]
    routes = router.routes
    assert routes["short"][0] is routes["long"][0]  # one WordEmbeddings, loaded once
    for task in ("query", "document", "short", "long", "static"):
        assert_same_embeddings(model.encode(texts, task=task), expected.encode(texts, task=task))


@pytest.mark.parametrize("task", [None, "text", "", "unknown"])
def test_tasks_without_a_route_fail_as_in_sentence_transformers(mapped_pair, task):
    model, expected = mapped_pair
    with pytest.raises(ValueError):
        expected.encode(["a text"], task=task)
    with pytest.raises(ValueError, match="route"):
        model.encode(["a text"], task=task)


def test_max_seq_length_is_the_largest_of_the_routes(query_document_pair):
    model, expected = query_document_pair
    assert model.max_seq_length == expected.max_seq_length == float("inf")


def test_export_writes_one_signature_per_route(query_document_pair, mapped_pair, tmp_path, texts):
    model, expected = query_document_pair
    sample = texts[:64] + texts[-3:]
    report = serve_in_fresh_process(
        model.export(tmp_path / "export"),
        sample,
        tmp_path,
        signatures=("serving_default", "query", "document"),
    )
    assert report["signatures"] == ["document", "query", "serving_default"]
    assert report["unregistered"] == [] and not report["tfst_imported"]
    served = report["embeddings"]
    assert_same_embeddings(served["serving_default"], expected.encode(sample))
    assert_same_embeddings(served["query"], expected.encode_query(sample))
    assert_same_embeddings(served["document"], expected.encode_document(sample))


def test_export_without_a_default_route_has_the_task_signatures(mapped_pair, tmp_path, texts):
    import tensorflow as tf

    model, expected = mapped_pair
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    # short is the query route; long the document route; static only by its name.
    assert sorted(served.signatures) == ["document", "query", "static"]
    sample = tf.constant(texts[:32])
    for task in ("query", "document", "static"):
        actual = served.signatures[task](sentences=sample)["sentence_embedding"].numpy()
        assert_same_embeddings(actual, expected.encode(texts[:32], task=task))


def test_save_pretrained_round_trips_through_sentence_transformers(
    query_document_pair, mapped_pair, tmp_path, texts
):
    sample = texts[:60] + texts[-3:]
    for name, (model, expected) in (("qd", query_document_pair), ("mapped", mapped_pair)):
        model.save_pretrained(tmp_path / name)
        config = json.loads((tmp_path / name / "router_config.json").read_text())
        reloaded = reference(tmp_path / name)
        for task in ("query", "document"):
            assert_same_embeddings(
                reloaded.encode(sample, task=task), expected.encode(sample, task=task)
            )
            assert_same_embeddings(
                tfst.load(tmp_path / name).encode(sample, task=task),
                expected.encode(sample, task=task),
            )
    assert config["structure"]["short"][0] == config["structure"]["long"][0]
    assert config["parameters"]["route_mappings"] == {
        "('query', 'text')": "short",
        "('document', None)": "long",
    }


def test_keras_file_round_trip_keeps_the_routes(query_document_pair, tmp_path, texts):
    import keras

    model, _ = query_document_pair
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert list(restored[0].routes) == ["query", "document"]
    for task in ("query", "document"):
        assert_same_embeddings(
            restored.encode(texts[:40], task=task), model.encode(texts[:40], task=task), 0.0
        )


def test_asym_folders_of_older_versions_load(query_document_router_folder, tmp_path, texts):
    """sentence-transformers < 5 saved the Router as Asym, its config in config.json with only
    allow_empty_key, so the first route is the default."""
    folder = tmp_path / "asym"
    shutil.copytree(query_document_router_folder, folder)
    config = json.loads((folder / "router_config.json").read_text())
    (folder / "router_config.json").unlink()
    config["parameters"] = {"allow_empty_key": True}
    (folder / "config.json").write_text(json.dumps(config))
    modules = json.loads((folder / "modules.json").read_text())
    modules[0]["type"] = "sentence_transformers.models.Asym"
    (folder / "modules.json").write_text(json.dumps(modules))
    model, expected = tfst.load(folder), reference(folder)
    assert model[0].default_route == "query"
    sample = texts[:40]
    for task in (None, "query", "document"):
        assert_same_embeddings(model.encode(sample, task=task), expected.encode(sample, task=task))


def test_hub_route_fetches_every_routed_module_s_weights(query_document_router_folder, tmp_path):
    assert sorted(hub._folders_with_weights(query_document_router_folder)) == [
        "document_0_Transformer",
        "query_0_StaticEmbedding",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["types"].update({"../outside": c["types"].popitem()[1]}),
            "not a folder inside",
        ),
        (lambda c: c["structure"]["query"].append("missing_module"), "not in types"),
        (lambda c: c["parameters"].update(default_route="nowhere"), "not a route"),
        (lambda c: c["parameters"].update(extra=1), "parameters must be an object"),
        (lambda c: c["parameters"].update(route_mappings={"'query'": "query"}), "(task, modality)"),
        (
            lambda c: c["types"].update(
                query_0_StaticEmbedding="sentence_transformers.models.Router"
            ),
            "a Router inside a Router",
        ),
    ],
)
def test_broken_router_configurations_are_refused(
    query_document_router_folder, tmp_path, change, message
):
    folder = tmp_path / "broken"
    shutil.copytree(query_document_router_folder, folder)
    path = folder / "router_config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=message):
        tfst.load(folder)


def test_route_mapping_keys_that_are_no_literal_are_skipped_like_sentence_transformers(
    mapped_router_folder, tmp_path, caplog
):
    folder = tmp_path / "model"
    shutil.copytree(mapped_router_folder, folder)
    path = folder / "router_config.json"
    config = json.loads(path.read_text())
    config["parameters"]["route_mappings"]["(query, text)"] = "long"
    path.write_text(json.dumps(config))
    model = tfst.load(folder)
    assert "could not parse route_mappings key" in caplog.text
    assert model[0].resolve_route("query") == "short"
    assert np.isfinite(model.encode(["the"], task="document")).all()


class _TextModule(Module):
    """A stand-in input module: resolving routes looks at names only."""

    is_input = True


def _router_configurations(count: int):
    """Random routers: route names among the tasks, mappings over every key shape."""
    rng = random.Random(7)
    names = ["query", "document", "text", "other", "image"]
    keys = [
        ("query", "text"),
        ("query", None),
        (None, "text"),
        (None, None),
        ("document", "image"),
        ("other", None),
        (None, "image"),
        (None, ("image", "text")),
    ]
    for _ in range(count):
        routes = rng.sample(names, rng.randint(1, 4))
        mappings = {key: rng.choice(routes) for key in rng.sample(keys, rng.randint(0, 4))}
        default = rng.choice([None, *routes])
        yield routes, mappings, default, rng.random() < 0.5


def test_routes_are_resolved_exactly_as_sentence_transformers_resolves_them():
    from sentence_transformers.base.modules.router import Router as Reference
    from torch import nn

    tasks = [None, "query", "document", "text", "other", "image", "", "missing"]
    compared = 0
    for routes, mappings, default, allow_empty_key in _router_configurations(300):
        theirs = Reference(
            {name: [nn.Identity()] for name in routes},
            default_route=default,
            allow_empty_key=allow_empty_key,
            route_mappings=mappings,
        ).eval()
        ours = Router(
            {name: [_TextModule()] for name in routes},
            default_route=default,
            allow_empty_key=allow_empty_key,
            route_mappings=mappings,
        )
        for task in tasks:
            try:
                expected = theirs._resolve_route(task=task, modality="text")
            except ValueError:
                expected = ValueError
            try:
                actual = ours.resolve_route(task)
            except ValueError:
                actual = ValueError
            assert actual == expected, (routes, mappings, default, allow_empty_key, task)
            compared += 1
    assert compared == 300 * len(tasks)
