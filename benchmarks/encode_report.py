"""The encode benchmark's results as the Markdown that benchmarks/README.md keeps."""

from __future__ import annotations

from diagnostics import ENCODER_SHAPE, MATMUL_SIZE
from report import load_clause, ratio, run_clause, spread, table

BASELINE = "pytorch"


def markdown(results: dict) -> str:
    names = list(results["throughput"])
    threads = results["threads"]
    lines = [
        f"{run_clause(results['date'], results['machine'])} · device {results['device']} · "
        f"{threads} threads per contender (torch.set_num_threads({threads}) + "
        f"set_num_interop_threads(1); TF intra-op {threads}, inter-op 1; "
        f"OMP/MKL_NUM_THREADS={threads}) · median of {results['rounds']} interleaved rounds "
        f"[min–max] · {results['texts']['mix']} mixed texts of 5–60 words (mean "
        f"{results['mean_words']['mix']:.0f}), {results['texts']['long']} long texts "
        f"(truncated at max_seq_length){load_clause(results.get('machine_load'))}",
        "",
        "Throughput, sentences/s (ratio to PyTorch):",
        "",
    ]
    rows = []
    for key in results["throughput"][BASELINE]:
        reference = results["throughput"][BASELINE][key]["median"]
        cells = []
        for name in names:
            measured = results["throughput"][name][key]
            cell = spread(measured)
            if name != BASELINE:
                cell += ratio(measured["median"], reference)
            cells.append(cell)
        set_name, batch_size = key.split("@")
        rows.append([f"{set_name}, batch {batch_size}", *cells])
    lines += table(["workload", *names], rows)

    latency = results["latency_ms"]
    rss = results["peak_rss_mb"]
    first = results["first_embedding_s"]
    measures = [
        ("single-sentence latency p50, ms", lambda n: latency[n]["latency"]["p50"], "{:.2f}"),
        ("single-sentence latency p95, ms", lambda n: latency[n]["latency"]["p95"], "{:.2f}"),
        (
            "short-query latency p50 (4–15 tokens), ms",
            lambda n: latency[n]["queries"]["p50"],
            "{:.2f}",
        ),
        ("short-query latency p95, ms", lambda n: latency[n]["queries"]["p95"], "{:.2f}"),
        ("peak RSS, MB", lambda n: rss[n], "{:.0f}"),
        (
            "first embedding (load + first call), s",
            lambda n: first[n]["first_embedding_s"],
            "{:.2f}",
        ),
        ("of which load, s", lambda n: first[n]["load_s"], "{:.2f}"),
        ("framework import (not included above), s", lambda n: first[n]["import_s"], "{:.2f}"),
    ]
    rows = []
    for label, value, fmt in measures:
        cells = []
        for name in names:
            cell = fmt.format(value(name))
            if name != BASELINE:
                cell += ratio(value(name), value(BASELINE))
            cells.append(cell)
        rows.append([label, *cells])
    parity = results["parity"]
    rows.append(
        [
            "parity vs PyTorch (max abs diff / min cosine)",
            "—",
            *(
                f"{parity[n]['max_abs_diff']:.1e} / {parity[n]['min_cosine']:.6f}"
                for n in names[1:]
            ),
        ]
    )
    rows.append(
        [
            "mean cosine / top-10 retrieval overlap vs PyTorch",
            "—",
            *(
                f"{parity[n]['mean_cosine']:.6f} / {parity[n]['top10_overlap']:.3f}"
                for n in names[1:]
            ),
        ]
    )
    lines += ["", *table(["", *names], rows)]

    if results["tokenization_sentences_per_s"]:
        lines += ["", "Tokenization alone, sentences/s (same mixed texts):", ""]
        for name, values in results["tokenization_sentences_per_s"].items():
            label = "HF tokenizers (Rust)" if name == BASELINE else "tfst in-graph WordPiece"
            lines.append(
                f"- {label}: " + ", ".join(f"{key}: {value:,.0f}" for key, value in values.items())
            )
    if results["gflops"]:
        batch, tokens = ENCODER_SHAPE
        lines += [
            "",
            f"Encoder alone at batch {batch} x {tokens} tokens vs {MATMUL_SIZE}³ matmul, timed "
            "alternately in the same worker, GFLOP/s:",
            "",
        ]
        for name, values in results["gflops"].items():
            dtype = "bfloat16" if name.endswith("bfloat16") else "float32"
            share = values["encoder"] / values[f"matmul_{dtype}"]
            lines.append(
                f"- {name}: encoder {values['encoder']:.0f}; matmul float32 "
                f"{values['matmul_float32']:.0f}, bfloat16 {values['matmul_bfloat16']:.0f} "
                f"(encoder at {share:.0%} of this framework's {dtype} matmul)"
            )
    floor = results.get("projection_floor_ms")
    if floor and "pytorch" in floor and "tfst" in floor:
        tokens = floor["tfst"]["tokens"]
        budget = 0.7 * latency[BASELINE]["latency"]["p50"]
        lines += [
            "",
            f"Projection matmuls alone (q, k, v, attention output, feed-forward; every layer, "
            f"with bias) on one text of {tokens} tokens, the latency texts' median, median ms "
            f"(0.7 × PyTorch's p50 latency is {budget:.2f} ms):",
            "",
            f"- PyTorch (`nn.Linear`): {floor['pytorch']['pytorch']:.2f}",
            "- TensorFlow, as tfst's encoder runs them (oneDNN): "
            f"{floor['tfst']['tensorflow']:.2f}",
            f"- TFLite interpreter (XNNPack): {floor['tfst']['tflite']:.2f}",
        ]
        if floor["tfst"].get("int8_exact") is False:
            lines.append(
                "- TensorFlow int8: not timed, its oneDNN int8 matmul is not exact on this CPU "
                "(no VNNI: 16-bit partial sums saturate)"
            )
        if "tensorflow_int8" in floor["tfst"]:
            tfst_floor = floor["tfst"]
            lines += [
                "- TensorFlow int8 (oneDNN `QuantizedMatMulWithBias`, int8 weights per output "
                "channel, activations quantized per token in the graph): "
                f"{tfst_floor['tensorflow_int8']:.2f}",
                "",
                f"The same chain on {tfst_floor['batch_rows']} rows (a batch of such texts), "
                f"TensorFlow float32 {tfst_floor['tensorflow_batch']:.2f} ms, int8 "
                f"{tfst_floor['tensorflow_int8_batch']:.2f} ms "
                f"({tfst_floor['tensorflow_batch'] / tfst_floor['tensorflow_int8_batch']:.2f}× "
                "float32's speed): the most an int8 SavedModel could gain on this CPU, attention "
                "and the rest staying float32.",
            ]
    return "\n".join(lines)
