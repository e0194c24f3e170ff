"""XLMRobertaTokenizer and RobertaTokenizer folders resolve to the pipeline transformers 5 builds,
on the folder shapes real models come in, and give its ids.

The reference is ``AutoTokenizer.from_pretrained(folder).backend_tokenizer`` (its JSON, part for
part) and that tokenizer called as sentence-transformers calls it (ids).
"""

from __future__ import annotations

import base64
import io
import json
import shutil

import pytest
import tensorflow as tf
import transformers
from hard_strings import ALL_HARD_STRINGS
from hypothesis import given, settings
from hypothesis import strategies as st
from model_builders import save_roberta_tokenizer, save_xlm_roberta_tokenizer, train_byte_level_bpe
from text.sentencepiece_models import (
    EXTRA_HARD_STRINGS,
    TRAINING_TEXT,
    model_proto,
    tokenizer_json,
    train_model,
    training_lines,
)
from text.test_bpe import hard_bpe_strings
from tokenizer_helpers import (
    assert_same_ids_as_transformers,
    assert_same_pipeline_as_transformers,
    layer_from_folder,
)

from tfst.text.sentencepiece_model import parse_sentencepiece_model, read_sentencepiece_model
from tfst.text.spec import TokenizerSpecError
from tfst.text.tokenizer_folder import read_tokenizer_settings

XLMR = "XLMRobertaTokenizer"
ROBERTA = "RobertaTokenizer"
ADDED_TOKEN_TEXTS = [
    "a <mask> b",
    "a<mask>b",
    "x   <mask>   y",
    "<s>x</s>",
    "<pad> <unk>",
    " x  y ",
    "<user1> and @@ in text, <ctrl> too",
    "<new> token",
]
MULTILINGUAL_TEXTS = (
    ALL_HARD_STRINGS + TRAINING_TEXT.splitlines() + EXTRA_HARD_STRINGS + ADDED_TOKEN_TEXTS
)
BYTE_LEVEL_TEXTS = hard_bpe_strings() + ADDED_TOKEN_TEXTS


def write_json(path, value):
    path.write_text(json.dumps(value), encoding="utf-8")


def edit_json(path, **changes):
    write_json(path, {**json.loads(path.read_text(encoding="utf-8")), **changes})


def copy_folder(source, target):
    return shutil.copytree(source, target)


# --- XLM-R folders --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def xlmr_saved_by_transformers_5(tmp_path_factory):
    """tokenizer.json + tokenizer_config.json as transformers 5 saves XLMRobertaTokenizer."""
    folder = tmp_path_factory.mktemp("xlmr_transformers5")
    save_xlm_roberta_tokenizer(folder)
    (folder / "sentencepiece.bpe.model").unlink()
    return folder


def sentencepiece_with_own_symbols() -> bytes:
    """A byte-fallback Unigram model with user-defined and control symbols."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines(made_up_words=False)),
        model_writer=model,
        model_type="unigram",
        vocab_size=800,
        normalization_rule_name="nmt_nfkc",
        byte_fallback=True,
        user_defined_symbols=["<user1>", "@@"],
        control_symbols=["<ctrl>"],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


@pytest.fixture(scope="session")
def xlmr_sentencepiece_only(tmp_path_factory):
    """An old XLM-R folder: sentencepiece.bpe.model and config.json, nothing else."""
    folder = tmp_path_factory.mktemp("xlmr_sentencepiece_only")
    (folder / "sentencepiece.bpe.model").write_bytes(sentencepiece_with_own_symbols())
    write_json(folder / "config.json", {"model_type": "xlm-roberta"})
    return folder


def test_xlmr_folder_saved_by_transformers_5(xlmr_saved_by_transformers_5):
    assert_same_pipeline_as_transformers(xlmr_saved_by_transformers_5, XLMR)
    assert_same_ids_as_transformers(xlmr_saved_by_transformers_5, XLMR, MULTILINGUAL_TEXTS)


def test_xlmr_folder_in_the_hub_layout_of_transformers_4(tmp_path):
    """tokenizer.json as the old converter wrote it (Precompiled + Replace, Metaspace alone, the
    template; ``<mask>`` strips the space before it), and a tokenizer_config.json without
    added_tokens_decoder: transformers 5 keeps only the vocabulary and the charsmap."""
    pipeline = json.loads(tokenizer_json(train_model("nmt_nfkc", 1000, False), xlmr_layout=True))
    pipeline["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            pipeline["normalizer"],
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ],
    }
    pipeline["pre_tokenizer"] = {
        "type": "Metaspace",
        "replacement": "▁",
        "add_prefix_space": True,
        "prepend_scheme": "always",
    }
    for token in pipeline["added_tokens"]:
        token["lstrip"] = token["content"] == "<mask>"
    write_json(tmp_path / "tokenizer.json", pipeline)
    write_json(
        tmp_path / "tokenizer_config.json",
        {"model_max_length": 512, "tokenizer_class": "XLMRobertaTokenizer"},
    )
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False}
    write_json(
        tmp_path / "special_tokens_map.json",
        {"bos_token": "<s>", "eos_token": "</s>", "mask_token": mask, "pad_token": "<pad>"},
    )
    assert_same_pipeline_as_transformers(tmp_path, XLMR)
    assert_same_ids_as_transformers(tmp_path, XLMR, MULTILINGUAL_TEXTS)


def test_xlmr_folder_with_only_the_sentencepiece_model(xlmr_sentencepiece_only):
    """Converted as transformers converts it: fairseq ids, byte fallback off, the control and
    user-defined pieces as added tokens."""
    assert_same_pipeline_as_transformers(xlmr_sentencepiece_only, XLMR)
    assert_same_ids_as_transformers(xlmr_sentencepiece_only, XLMR, MULTILINGUAL_TEXTS)
    added = read_tokenizer_settings(xlmr_sentencepiece_only, XLMR).tokenizer_json["added_tokens"]
    assert {token["content"]: token["special"] for token in added}["<user1>"] is False


def test_xlmr_sentencepiece_folder_with_special_tokens_map_and_options(
    xlmr_sentencepiece_only, tmp_path
):
    """A special token written as an AddedToken object keeps its flags (``<mask>`` lstrip), and
    ``add_prefix_space: false`` prepends nothing."""
    folder = copy_folder(xlmr_sentencepiece_only, tmp_path / "model")
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False}
    write_json(folder / "special_tokens_map.json", {"mask_token": mask, "unk_token": "<unk>"})
    write_json(folder / "tokenizer_config.json", {"add_prefix_space": False})
    assert_same_pipeline_as_transformers(folder, XLMR)
    assert_same_ids_as_transformers(folder, XLMR, ADDED_TOKEN_TEXTS + ALL_HARD_STRINGS[:50])


def test_xlmr_extra_special_tokens_of_the_config(xlmr_saved_by_transformers_5, tmp_path):
    folder = copy_folder(xlmr_saved_by_transformers_5, tmp_path / "model")
    edit_json(folder / "tokenizer_config.json", extra_special_tokens=["<new>", "<s>"])
    assert_same_pipeline_as_transformers(folder, XLMR)
    assert_same_ids_as_transformers(folder, XLMR, ADDED_TOKEN_TEXTS)


def test_xlmr_tokenizer_with_a_bert_model(xlmr_saved_by_transformers_5, tmp_path):
    """paraphrase-multilingual-MiniLM-L12-v2's shape: model_type bert, the class from the config."""
    folder = copy_folder(xlmr_saved_by_transformers_5, tmp_path / "model")
    write_json(folder / "config.json", {"model_type": "bert"})
    assert_same_pipeline_as_transformers(folder, "BertTokenizer")


@pytest.mark.parametrize("rule", ["nfkc_cf", "identity"])
def test_xlmr_other_normalization_rules(rule, tmp_path):
    """Another charsmap, or none (the identity rule has an empty one: no normalizer)."""
    (tmp_path / "sentencepiece.bpe.model").write_bytes(train_model(rule, 600, False))
    write_json(tmp_path / "config.json", {"model_type": "xlm-roberta"})
    assert_same_pipeline_as_transformers(tmp_path, XLMR)
    normalizer = read_tokenizer_settings(tmp_path, XLMR).tokenizer_json["normalizer"]
    assert (normalizer is None) == (rule == "identity")


def test_xlmr_tokenizer_json_without_a_unigram_vocabulary_is_refused(tmp_path):
    save_roberta_tokenizer(tmp_path, vocab_size=400)
    edit_json(tmp_path / "tokenizer_config.json", tokenizer_class="XLMRobertaTokenizer")
    with pytest.raises(TokenizerSpecError, match=r"tokenizer.json: model.vocab must be a Unigram"):
        read_tokenizer_settings(tmp_path, XLMR)


def test_xlmr_folder_without_tokenizer_files_is_refused_naming_them(tmp_path):
    write_json(tmp_path / "tokenizer_config.json", {"tokenizer_class": "XLMRobertaTokenizer"})
    with pytest.raises(FileNotFoundError, match="sentencepiece.bpe.model"):
        read_tokenizer_settings(tmp_path, XLMR)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "it has no pieces"),
        (b"\x0a\x05\x0a\x01a", "runs past the end"),
        (b"\x0a\x80", "ends inside a number"),
        (b"\x0b", "wire type 3"),
        (b"\x0a\x03\x0a\x01\xff", "is not UTF-8"),
        (b"\x0a\x02\x10\x01", "score has wire type 0"),
    ],
)
def test_damaged_sentencepiece_models_are_refused_naming_the_file(tmp_path, data, message):
    (tmp_path / "sentencepiece.bpe.model").write_bytes(data)
    write_json(tmp_path / "config.json", {"model_type": "xlm-roberta"})
    with pytest.raises(TokenizerSpecError, match=f"sentencepiece.bpe.model.*{message}"):
        read_tokenizer_settings(tmp_path, XLMR)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(lambda: train_model("nmt_nfkc", 1000, False), id="nmt_nfkc"),
        pytest.param(lambda: train_model("nfkc_cf", 3000, True), id="nfkc_cf_byte_fallback"),
        pytest.param(sentencepiece_with_own_symbols, id="own_symbols"),
    ],
)
def test_sentencepiece_model_reader_agrees_with_protobuf(model):
    data = model()
    proto = model_proto(data)
    ours = parse_sentencepiece_model(data, "model")
    assert [(p.piece, p.score, p.type) for p in ours.pieces] == [
        (p.piece, p.score, p.type) for p in proto.pieces
    ]
    assert ours.precompiled_charsmap == proto.normalizer_spec.precompiled_charsmap


def test_sentencepiece_model_reader_merges_repeated_fields_as_protobuf_does(tmp_path):
    """A repeated singular field keeps its last value; unknown fields of every wire type are
    skipped."""
    from sentencepiece import sentencepiece_model_pb2

    piece = b"\x0a\x01a" + b"\x15" + bytes(4) + b"\x0a\x01b" + b"\x18\x04" + b"\x21" + bytes(8)
    normalizer = b"\x12\x02xy" + b"\x0a\x03abc" + b"\x12\x01z"
    data = b"\x0a" + bytes([len(piece)]) + piece + b"\x1a" + bytes([len(normalizer)]) + normalizer
    data += b"\x28\x07"  # an unknown varint field
    (tmp_path / "spiece.model").write_bytes(data)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(data)
    ours = read_sentencepiece_model(tmp_path / "spiece.model")
    assert [(p.piece, p.score, p.type) for p in ours.pieces] == [("b", 0.0, 4)]
    assert (proto.pieces[0].piece, proto.pieces[0].type) == ("b", 4)
    assert ours.precompiled_charsmap == proto.normalizer_spec.precompiled_charsmap == b"z"


# --- RoBERTa folders ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def roberta_tokenizer_folder(tmp_path_factory):
    """tokenizer.json + tokenizer_config.json as transformers 5 saves RobertaTokenizer, and the
    legacy vocab.json + merges.txt beside them."""
    folder = tmp_path_factory.mktemp("roberta_tokenizer")
    save_roberta_tokenizer(folder, vocab_size=3000)
    return folder


def test_roberta_folder_saved_by_transformers_5(roberta_tokenizer_folder, tmp_path):
    folder = copy_folder(roberta_tokenizer_folder, tmp_path / "model")
    for name in ("vocab.json", "merges.txt"):
        (folder / name).unlink()
    assert_same_pipeline_as_transformers(folder, ROBERTA)
    assert_same_ids_as_transformers(folder, ROBERTA, BYTE_LEVEL_TEXTS)


def test_roberta_legacy_vocab_and_merges_files(roberta_tokenizer_folder, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(roberta_tokenizer_folder / name, folder / name)
    write_json(folder / "config.json", {"model_type": "roberta"})
    assert_same_pipeline_as_transformers(folder, ROBERTA)
    assert_same_ids_as_transformers(folder, ROBERTA, BYTE_LEVEL_TEXTS)


def test_roberta_folder_in_the_hub_layout_of_transformers_4(tmp_path):
    """tokenizer.json as `tokenizers` wrote it for RoBERTa (its own normalizer, unk_token and
    merges as strings are dropped by transformers 5), a v4 tokenizer_config.json."""
    from tokenizers import processors

    trained = train_byte_level_bpe(2000)
    trained.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    trained.add_special_tokens(
        [transformers.AddedToken("<mask>", lstrip=True, normalized=False, special=True)]
    )
    pipeline = json.loads(trained.to_str())
    pipeline["normalizer"] = {"type": "Lowercase"}
    pipeline["model"]["unk_token"] = "<unk>"
    pipeline["model"]["merges"] = [" ".join(merge) for merge in pipeline["model"]["merges"]]
    write_json(tmp_path / "tokenizer.json", pipeline)
    mask = {"__type": "AddedToken", "content": "<mask>", "lstrip": True, "rstrip": False}
    write_json(
        tmp_path / "tokenizer_config.json",
        {
            "tokenizer_class": "RobertaTokenizer",
            "add_prefix_space": False,
            "trim_offsets": True,
            "errors": "replace",
            "mask_token": {**mask, "normalized": False, "single_word": False},
            "model_max_length": 512,
        },
    )
    assert_same_pipeline_as_transformers(tmp_path, ROBERTA)
    assert_same_ids_as_transformers(tmp_path, ROBERTA, BYTE_LEVEL_TEXTS)


def test_roberta_add_prefix_space(roberta_tokenizer_folder, tmp_path):
    folder = copy_folder(roberta_tokenizer_folder, tmp_path / "model")
    edit_json(folder / "tokenizer_config.json", add_prefix_space=True, trim_offsets=False)
    assert_same_pipeline_as_transformers(folder, ROBERTA)
    assert_same_ids_as_transformers(folder, ROBERTA, BYTE_LEVEL_TEXTS[:200])


def test_roberta_folder_without_merges_is_refused_naming_the_file(
    roberta_tokenizer_folder, tmp_path
):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(roberta_tokenizer_folder / "vocab.json", folder / "vocab.json")
    with pytest.raises(FileNotFoundError, match="merges.txt not found"):
        read_tokenizer_settings(folder, ROBERTA)


@pytest.mark.parametrize("value", ["false", None, 0])
def test_roberta_option_that_is_not_a_boolean_is_refused(roberta_tokenizer_folder, tmp_path, value):
    folder = copy_folder(roberta_tokenizer_folder, tmp_path / "model")
    edit_json(folder / "tokenizer_config.json", add_prefix_space=value)
    with pytest.raises(TokenizerSpecError, match="add_prefix_space"):
        read_tokenizer_settings(folder, ROBERTA)


# --- Generated text -------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    list("aeiouxyz ÉéüßñçØ\t\n")
    + list("ДжЯ中文日本語한국어ไทยहिंदी🙂👍🏽\u200d\u0301")
    + ["<mask>", "<s>"]
)
GENERATED_TEXTS = st.lists(
    st.lists(ALPHABET, max_size=30).map("".join) | st.text(max_size=30), min_size=1, max_size=8
)


def compiled_layer(folder, default_class):
    layer = layer_from_folder(folder, max_length=64, default_class=default_class)
    return tf.function(
        lambda texts: layer(texts)["input_ids"],
        input_signature=[tf.TensorSpec([None], tf.string)],
    )


@pytest.fixture(scope="session")
def xlmr_generated(xlmr_saved_by_transformers_5):
    hf = transformers.AutoTokenizer.from_pretrained(str(xlmr_saved_by_transformers_5))
    return hf, compiled_layer(xlmr_saved_by_transformers_5, XLMR)


@pytest.fixture(scope="session")
def roberta_generated(roberta_tokenizer_folder):
    hf = transformers.AutoTokenizer.from_pretrained(str(roberta_tokenizer_folder))
    return hf, compiled_layer(roberta_tokenizer_folder, ROBERTA)


def assert_generated_ids(generated, texts):
    hf, layer = generated
    expected = hf(texts, padding=True, truncation=True, max_length=64)["input_ids"]
    assert layer(tf.constant(texts)).numpy().tolist() == expected


@settings(max_examples=60, deadline=None)
@given(texts=GENERATED_TEXTS)
def test_generated_text_gives_transformers_xlmr_ids(xlmr_generated, texts):
    assert_generated_ids(xlmr_generated, texts)


@settings(max_examples=60, deadline=None)
@given(texts=GENERATED_TEXTS)
def test_generated_text_gives_transformers_roberta_ids(roberta_generated, texts):
    assert_generated_ids(roberta_generated, texts)


def test_charsmap_is_carried_over_byte_for_byte(xlmr_saved_by_transformers_5):
    pipeline = read_tokenizer_settings(xlmr_saved_by_transformers_5, XLMR).tokenizer_json
    charsmap = base64.b64decode(pipeline["normalizer"]["precompiled_charsmap"])
    assert (
        charsmap
        == model_proto(train_model("nmt_nfkc", 1000, False)).normalizer_spec.precompiled_charsmap
    )
